"""Run the GreaterWMS simulator: ``python -m simulators.wms --host 127.0.0.1 --port 8603 --seed demo``.

The accepted token comes from ``WMS_SIM_TOKEN``; without it the public demo token
(``DEMO_TOKEN``, not a secret) is accepted so ``make demo`` works out of the box.
"""
from __future__ import annotations

import argparse
import logging
import os

from simulators.wms.server import DEMO_TOKEN, TOKEN_ENV, WmsState, make_server, seed_demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.wms", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8603)
    parser.add_argument("--seed", choices=("demo", "none"), default="demo")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    token = os.environ.get(TOKEN_ENV)
    state = WmsState(tokens=[token or DEMO_TOKEN])
    if args.seed == "demo":
        seed_demo(state)
    server = make_server(state, args.host, args.port)
    # say which token kind is in use, never the token itself
    source = f"${TOKEN_ENV}" if token else "the built-in DEMO token (set $%s for anything else)" % TOKEN_ENV
    print(f"GreaterWMS simulator on {server.base_url} accepting {source}", flush=True)
    server.serve_until_interrupted()


if __name__ == "__main__":
    main()
