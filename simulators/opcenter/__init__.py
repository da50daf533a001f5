"""Siemens Opcenter Execution Foundation simulator; see ``server.py`` for what is faithful and what is inferred."""
from simulators.opcenter.faults import Fault, FaultBook
from simulators.opcenter.server import OpcenterHandler, make_server
from simulators.opcenter.state import (
    CLIENTS_ENV, DEMO_CLIENTS, DEMO_PLANT, DEMO_USERS, USERS_ENV, CommandError, OpcenterState, seed_demo,
)

__all__ = [
    "CLIENTS_ENV", "DEMO_CLIENTS", "DEMO_PLANT", "DEMO_USERS", "USERS_ENV",
    "CommandError", "Fault", "FaultBook", "OpcenterHandler", "OpcenterState", "make_server", "seed_demo",
]
