"""collaboration.alerts became a package: every name the flows and tests imported is still there."""
from __future__ import annotations

import importlib
from pathlib import Path

import collaboration.alerts as alerts


def test_old_names_are_re_exported():
    for name in ("BUYER", "WAREHOUSE", "short_shipment", "receipt_mismatch", "order_response",
                 "receiving_discrepancy", "asn_cancel_too_late"):
        assert getattr(alerts, name) is getattr(importlib.import_module("collaboration.alerts.matching"), name)
    for name in alerts.__all__:
        assert hasattr(alerts, name), name


def test_the_module_file_is_gone_and_the_callers_import():
    assert not (Path(alerts.__file__).parent.parent / "alerts.py").exists()
    for module in ("hub.flows.events", "hub.flows.warehouse", "hub.flows.supplier_inbound", "hub.flows.acks"):
        importlib.import_module(module)
