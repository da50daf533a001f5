"""``python -m simulators.kingdee --host 127.0.0.1 --port 8601 [--seed demo] [--seed-pos N --lines-per-po N ...]``

Credentials come from ``KINGDEE_SIM_USERS`` (``acct:user:password[,...]``) and
``KINGDEE_SIM_APPS`` (``acct:user:app_id:app_secret[,...]``); without them the documented
DEMO-ONLY defaults apply (``demo-acct`` / ``mes_api`` / ``demo-only-password``), which protect
nothing and exist so ``make demo`` works out of the box.

Generated data (``simulators/kingdee/generate.py``) is added when any ``--seed-*`` count is
given, e.g. 100 000 PO lines: ``--seed-pos 10000 --lines-per-po 10``. Faults are armed at run
time with ``POST /__sim/faults`` (see ``admin.py``).
"""
from __future__ import annotations

import argparse
import logging
import os

from simulators.kingdee import generate
from simulators.kingdee.server import USERS_ENV, make_server


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.kingdee", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8601)
    parser.add_argument("--seed", choices=["demo"], default=None, help="load demo suppliers, materials and POs")
    gen = parser.add_argument_group("generated data (all audited; deterministic per --random-seed)")
    gen.add_argument("--seed-suppliers", type=_count, default=None, help="suppliers SUP-001.. (default 20)")
    gen.add_argument("--seed-materials", type=_count, default=None, help="materials (default 50)")
    gen.add_argument("--seed-pos", type=_count, default=None, help="purchase orders (default 0)")
    gen.add_argument("--lines-per-po", type=_count, default=None, help="entry lines per PO (default 5)")
    gen.add_argument("--seed-boms", type=_count, default=None, help="ENG_BOM versions (default 0)")
    gen.add_argument("--seed-mos", type=_count, default=None, help="PRD_MO bills (default 0)")
    gen.add_argument("--seed-stock", type=_count, default=None,
                     help="STK_Inventory rows (default 2 per material when generating)")
    gen.add_argument("--random-seed", type=int, default=0, help="RNG seed of the generator and of the faults")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    server = make_server(args.host, args.port, seed=args.seed)
    server.state.faults.reseed(args.random_seed)
    counts = {"n_suppliers": args.seed_suppliers, "n_materials": args.seed_materials, "n_pos": args.seed_pos,
              "lines_per_po": args.lines_per_po, "n_boms": args.seed_boms, "n_mos": args.seed_mos,
              "n_stock": args.seed_stock}
    generated = None
    if any(value is not None for value in counts.values()):
        defaults = {"n_pos": 0, "n_boms": 0, "n_mos": 0}
        given = {k: v for k, v in counts.items() if v is not None}
        generated = generate.seed(server.state, **{**defaults, **given}, seed=args.random_seed)
    source = USERS_ENV if os.environ.get(USERS_ENV) else "demo default (DEMO ONLY, not a secret)"
    # the credential *source* is logged, never the credentials themselves
    logging.getLogger("simulators.kingdee").info(
        "Kingdee K/3 Cloud simulator on %s/k3cloud/ (users from %s, seed=%s, generated=%s)", server.base_url,
        source, args.seed, generated)
    server.serve_until_interrupted()


if __name__ == "__main__":
    main()
