"""``python -m simulators.kingdee --host 127.0.0.1 --port 8601 [--seed demo]``

Credentials come from ``KINGDEE_SIM_USERS`` (``acct:user:password[,...]``) and
``KINGDEE_SIM_APPS`` (``acct:user:app_id:app_secret[,...]``); without them the documented
DEMO-ONLY defaults apply (``demo-acct`` / ``mes_api`` / ``demo-only-password``), which protect
nothing and exist so ``make demo`` works out of the box.
"""
from __future__ import annotations

import argparse
import logging
import os

from simulators.kingdee.server import USERS_ENV, make_server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.kingdee", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8601)
    parser.add_argument("--seed", choices=["demo"], default=None, help="load demo suppliers, materials and POs")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    server = make_server(args.host, args.port, seed=args.seed)
    source = USERS_ENV if os.environ.get(USERS_ENV) else "demo default (DEMO ONLY, not a secret)"
    # the credential *source* is logged, never the credentials themselves
    logging.getLogger("simulators.kingdee").info(
        "Kingdee K/3 Cloud simulator on %s/k3cloud/ (users from %s, seed=%s)", server.base_url, source, args.seed)
    server.serve_until_interrupted()


if __name__ == "__main__":
    main()
