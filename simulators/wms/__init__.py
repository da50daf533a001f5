"""WMS simulators: GreaterWMS-style REST (protocols/wms.md §2, ``server.py``, the default) and Odoo
stock over JSON-RPC (§1, ``simulators.wms.odoo``); ``python -m simulators.wms --dialect odoo``."""
from simulators.wms.server import (
    DEFAULT_BINS,
    DEFAULT_GOODS,
    DEFAULT_SUPPLIERS,
    DEMO_TOKEN,
    TOKEN_ENV,
    WmsHandler,
    WmsState,
    make_server,
    operate_receiving,
    seed_demo,
)

__all__ = [
    "DEFAULT_BINS", "DEFAULT_GOODS", "DEFAULT_SUPPLIERS", "DEMO_TOKEN", "TOKEN_ENV",
    "WmsHandler", "WmsState", "make_server", "operate_receiving", "seed_demo",
]
