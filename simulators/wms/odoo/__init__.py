"""Odoo (stock, JSON-RPC) simulator for the WMS adapter's ``odoo`` dialect (protocols/wms.md §1).

``python -m simulators.wms --dialect odoo`` runs it; see ``server.py`` for the wire and what is
inferred, ``stock.py`` for the picking state machine, ``operator.py`` for the warehouse clerk.
"""
from simulators.wms.odoo.operator import OdooOperatorError, operate_receiving
from simulators.wms.odoo.server import (
    DATABASE_ENV,
    DEMO_DATABASE,
    DEMO_LOGIN,
    DEMO_PASSWORD,
    LOGIN_ENV,
    PASSWORD_ENV,
    OdooHandler,
    OdooState,
    make_server,
    seed_demo,
)

__all__ = [
    "DATABASE_ENV", "DEMO_DATABASE", "DEMO_LOGIN", "DEMO_PASSWORD", "LOGIN_ENV", "PASSWORD_ENV", "OdooHandler",
    "OdooOperatorError", "OdooState", "make_server", "operate_receiving", "seed_demo",
]
