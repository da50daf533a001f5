"""``python -m simulators.opcenter --host 127.0.0.1 --port 8605 [--seed demo] [--plant PLANT01]``

OAuth2 clients come from ``OPCENTER_SIM_CLIENTS`` (``client_id:client_secret[,...]``) and the
users of the password grant from ``OPCENTER_SIM_USERS`` (``DOMAIN\\user:password[,...]``);
without them the documented DEMO-ONLY defaults apply (client ``mes-hub`` /
``demo-only-client-secret``, user ``PLANT01\\mes_int`` / ``demo-only-password``), which protect
nothing and exist so ``make demo`` works out of the box.

``--seed demo`` loads the demo plant dated around today (simulators/opcenter/state.py
``seed_demo``) and turns on the simulated shop floor (a released lot of a material an order
needs is consumed into it). Faults are armed at run time with ``POST /__sim/faults`` (admin.py).
"""
from __future__ import annotations

import argparse
import logging
import os

from simulators.opcenter.server import make_server
from simulators.opcenter.state import CLIENTS_ENV, DEMO_PLANT, TOKEN_LIFETIME_SECONDS, OpcenterState


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.opcenter", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8605)
    parser.add_argument("--seed", choices=["demo"], default=None, help="load the demo plant (dated around today)")
    parser.add_argument("--plant", default=DEMO_PLANT, help="the plant id accepted in /sit-svc/<plant>/... paths")
    parser.add_argument("--token-lifetime", type=float, default=TOKEN_LIFETIME_SECONDS, help="seconds")
    parser.add_argument("--no-auto-consume", action="store_true", help="with --seed demo: no simulated shop floor")
    parser.add_argument("--random-seed", type=int, default=0, help="RNG seed of probabilistic faults")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    state = OpcenterState(plant_id=args.plant, token_lifetime=args.token_lifetime)
    server = make_server(args.host, args.port, state=state, seed=args.seed)
    if args.no_auto_consume:
        state.auto_consume = False
    state.faults.reseed(args.random_seed)
    source = CLIENTS_ENV if os.environ.get(CLIENTS_ENV) else "demo default (DEMO ONLY, not a secret)"
    # the credential *source* is logged, never the credentials themselves
    logging.getLogger("simulators.opcenter").info(
        "Opcenter simulator on %s/sit-svc (plant %s, clients from %s, seed=%s, auto_consume=%s)", server.base_url,
        args.plant, source, args.seed, state.auto_consume)
    server.serve_until_interrupted()


if __name__ == "__main__":
    main()
