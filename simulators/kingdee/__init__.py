"""Kingdee K/3 Cloud WebAPI simulator; see ``server.py`` for what is faithful and what is inferred."""
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
    "KingdeeHandler", "KingdeeState", "make_server", "seed_demo",
]
