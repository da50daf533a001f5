"""GreaterWMS-style WMS simulator (protocols/wms.md §2); see ``server.py`` for what is inferred."""
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
