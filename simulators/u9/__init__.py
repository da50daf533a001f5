"""Yonyou U9 simulator (classic SOAP + U9 Cloud REST); see ``server.py`` for what is faithful and what is inferred."""
from simulators.u9.server import U9Handler, make_server
from simulators.u9.state import (
    CLIENTS_ENV,
    CONTEXTS_ENV,
    DEMO_CLIENTS,
    DEMO_CONTEXTS,
    FAULT_KINDS,
    Fault,
    U9State,
    seed,
    seed_demo,
)

__all__ = [
    "CLIENTS_ENV", "CONTEXTS_ENV", "DEMO_CLIENTS", "DEMO_CONTEXTS", "FAULT_KINDS",
    "Fault", "U9Handler", "U9State", "make_server", "seed", "seed_demo",
]
