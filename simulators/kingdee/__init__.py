"""Kingdee K/3 Cloud WebAPI simulator; see ``server.py`` for what is faithful and what is inferred."""
from simulators.kingdee.faults import Fault, FaultBook
from simulators.kingdee.generate import seed as seed_generated
from simulators.kingdee.generate import touch
from simulators.kingdee.server import (
    DEMO_APPS,
    DEMO_USERS,
    APPS_ENV,
    USERS_ENV,
    KingdeeHandler,
    KingdeeState,
    make_server,
    seed_demo,
)

__all__ = [
    "APPS_ENV", "DEMO_APPS", "DEMO_USERS", "USERS_ENV",
    "Fault", "FaultBook", "KingdeeHandler", "KingdeeState", "make_server", "seed_demo", "seed_generated", "touch",
]
