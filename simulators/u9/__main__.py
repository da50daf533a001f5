"""``python -m simulators.u9 --host 127.0.0.1 --port 8611 [--seed demo|random] [sizes...]``

Serves classic U9 SOAP under ``--soap-base`` (``/U9/Services``) and U9 Cloud REST under
``--rest-base`` (``/U9C``) on one port. U9 Cloud clients come from ``U9_SIM_CLIENTS``
(``clientid:entCode:orgCode:userCode:clientsecret[,...]``), trusted classic contexts from
``U9_SIM_CONTEXTS`` (``EnterpriseID:OrgID:UserID[,...]``); without them the documented DEMO-ONLY
defaults apply (client ``demo-client`` / secret ``demo-only-client-secret``, enterprise ``010``,
org ``101``, user ``mes_api``), which protect nothing and exist so ``make demo`` works out of the box.
"""
from __future__ import annotations

import argparse
import logging
import os

from simulators.u9.server import make_server
from simulators.u9.state import CLIENTS_ENV, U9State


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.u9", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8611)
    parser.add_argument("--seed", choices=["demo", "random"], default=None,
                        help="demo: the Kingdee demo plant in U9 terms; random: sizes below")
    parser.add_argument("--with-production", action="store_true",
                        help="demo seed: add a finished good with BOM, two MOs and stock (not in the Kingdee demo)")
    parser.add_argument("--suppliers", type=int, default=20)
    parser.add_argument("--materials", type=int, default=50)
    parser.add_argument("--boms", type=int, default=10)
    parser.add_argument("--purchase-orders", type=int, default=100)
    parser.add_argument("--lines-per-po", type=int, default=5)
    parser.add_argument("--production-orders", type=int, default=20)
    parser.add_argument("--stock", type=int, default=None, help="stock rows (default: 2 per material)")
    parser.add_argument("--random-seed", type=int, default=0)
    parser.add_argument("--rest-base", default="/U9C", help="U9 Cloud path prefix (/U9C or /U9)")
    parser.add_argument("--soap-base", default="/U9/Services", help="classic .svc path prefix")
    parser.add_argument("--token-ttl", type=float, default=3600.0, help="seconds a U9 Cloud token lives")
    parser.add_argument("--data-as-string", action="store_true",
                        help="answer create/approve with Data as a JSON-encoded string (both forms are seen)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    state = U9State(token_ttl=args.token_ttl, data_as_string=args.data_as_string, rest_base=args.rest_base,
                    soap_base=args.soap_base)
    sizes: dict = {"with_production": args.with_production} if args.seed == "demo" else {}
    if args.seed == "random":
        sizes = dict(suppliers=args.suppliers, materials=args.materials, boms=args.boms,
                     purchase_orders=args.purchase_orders, lines_per_po=args.lines_per_po,
                     production_orders=args.production_orders, stock=args.stock, random_seed=args.random_seed)
    server = make_server(args.host, args.port, state, args.seed, **sizes)
    source = CLIENTS_ENV if os.environ.get(CLIENTS_ENV) else "demo default (DEMO ONLY, not a secret)"
    # the credential *source* is logged, never the credentials themselves
    logging.getLogger("simulators.u9").info(
        "U9 simulator on %s: SOAP %s/<Contract>.svc, REST %s/webapi (clients from %s, seed=%s)",
        server.base_url, state.soap_base, state.rest_base, source, args.seed)
    server.serve_until_interrupted()


if __name__ == "__main__":
    main()
