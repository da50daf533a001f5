"""``python -m simulators.jiandaoyun --host 127.0.0.1 --port 8604 [--seed demo] [--push-url URL]``

``python -m simulators.jiandaoyun push URL [--op data_update] [--file record.json]`` sends one
signed data push to URL instead (see ``push.py``).

The API key comes from ``JIANDAOYUN_SIM_API_KEYS`` (comma-separated) and the forms' data-push
secret from ``JIANDAOYUN_SIM_WEBHOOK_SECRET``; without them the documented DEMO-ONLY defaults
apply (``demo-only-jdy-api-key`` / ``demo-only-jdy-webhook-secret``), which protect nothing and
exist so ``make demo`` works out of the box.

The API is served under ``http://HOST:PORT/api/v5/``. Faults and browser-side edits (which fire
signed pushes) are driven through ``/__sim/`` (see ``admin.py``); ``--push-url`` registers one
push URL for every demo form at start-up.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from simulators.jiandaoyun import push
from simulators.jiandaoyun.push import WEBHOOK_SECRET_ENV
from simulators.jiandaoyun.server import API_KEYS_ENV, make_server


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["push"]:
        sys.exit(push.main(argv[1:]))
    parser = argparse.ArgumentParser(prog="python -m simulators.jiandaoyun", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8604)
    parser.add_argument("--seed", choices=["demo"], default=None,
                        help="the supply-chain app with its six forms and two production orders")
    parser.add_argument("--push-url", default=None, help="data-push URL for every form (e.g. the hub's ingress)")
    parser.add_argument("--random-seed", type=int, default=0, help="RNG seed of probabilistic faults")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    server = make_server(args.host, args.port, seed=args.seed)
    server.state.faults.reseed(args.random_seed)
    if args.push_url:
        for entry_id in server.state.forms:
            server.state.set_hook(entry_id, args.push_url)
    # the credential *source* is logged, never the credentials themselves
    sources = {name: (name if os.environ.get(name) else "demo default (DEMO ONLY, not a secret)")
               for name in (API_KEYS_ENV, WEBHOOK_SECRET_ENV)}
    logging.getLogger("simulators.jiandaoyun").info(
        "Jiandaoyun simulator on %s/api/v5/ (API keys from %s, push secret from %s, seed=%s, push_url=%s)",
        server.base_url, sources[API_KEYS_ENV], sources[WEBHOOK_SECRET_ENV], args.seed, args.push_url)
    server.serve_until_interrupted()


if __name__ == "__main__":
    main()
