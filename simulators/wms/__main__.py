"""Run a WMS simulator: ``python -m simulators.wms [--dialect greaterwms|odoo] --host 127.0.0.1 --port 8603 --seed demo``.

GreaterWMS (default): the accepted token comes from ``WMS_SIM_TOKEN``; without it the public
demo token (``DEMO_TOKEN``, not a secret) is accepted so ``make demo`` works out of the box.

Odoo: database ``WMS_SIM_DATABASE`` (default ``wms_demo``), login ``WMS_SIM_LOGIN`` (default
``mes_api``), password / API key ``WMS_SIM_TOKEN`` (default: the public DEMO-ONLY password
``simulators.wms.odoo.DEMO_PASSWORD``).
"""
from __future__ import annotations

import argparse
import logging
import os

from simulators.wms.server import DEMO_TOKEN, TOKEN_ENV, WmsState, make_server, seed_demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.wms", description=__doc__.splitlines()[0])
    parser.add_argument("--dialect", choices=("greaterwms", "odoo"), default="greaterwms")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8603)
    parser.add_argument("--seed", choices=("demo", "none"), default="demo")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    token = os.environ.get(TOKEN_ENV)
    # say which credential kind is in use, never the credential itself
    source = f"${TOKEN_ENV}" if token else "the built-in DEMO-ONLY credential (set $%s for anything else)" % TOKEN_ENV
    if args.dialect == "odoo":
        from simulators.wms import odoo

        state = odoo.OdooState(database=os.environ.get(odoo.DATABASE_ENV) or odoo.DEMO_DATABASE,
                               login=os.environ.get(odoo.LOGIN_ENV) or odoo.DEMO_LOGIN,
                               password=token or odoo.DEMO_PASSWORD)
        if args.seed == "demo":
            odoo.seed_demo(state)
        server = odoo.make_server(state, args.host, args.port)
        login = next(iter(state.users))
        print(f"Odoo (stock, JSON-RPC) simulator on {server.base_url} database {state.db.name!r} login {login!r} "
              f"accepting {source}", flush=True)
    else:
        state = WmsState(tokens=[token or DEMO_TOKEN])
        if args.seed == "demo":
            seed_demo(state)
        server = make_server(state, args.host, args.port)
        print(f"GreaterWMS simulator on {server.base_url} accepting {source}", flush=True)
    server.serve_until_interrupted()


if __name__ == "__main__":
    main()
