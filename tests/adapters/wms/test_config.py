"""WmsConfig for the odoo dialect: Connection fields, extras per dialect, secrets kept out of errors."""
from __future__ import annotations

import json

import pytest

from adapters.wms.config import WmsConfig
from adapters.wms.hook import WmsHook
from hub.errors import FatalError


def test_odoo_connection_json_form(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WMS_DEFAULT", json.dumps({
        "conn_type": "wms", "host": "odoo.example.local", "port": 8069, "schema": "https", "login": "mes_api",
        "password": "k3y-Secret/9", "extra": {"dialect": "odoo", "database": "wms_prod", "route": "session",
                                               "quarantine_location": "WH/QC"}}))
    cfg = WmsConfig.from_conn_id()
    assert cfg.base_url == "https://odoo.example.local:8069" and cfg.dialect == "odoo"
    assert (cfg.login, cfg.database, cfg.route, cfg.quarantine_location, cfg.stock_location) == (
        "mes_api", "wms_prod", "session", "WH/QC", "WH/Stock")
    assert "k3y" not in repr(cfg) and "k3y" not in cfg.model_dump_json()
    with WmsHook.from_conn_id() as hook:
        assert hook.dialect == "odoo"


@pytest.mark.parametrize("uri, fragment", [
    ("wms://mes_api:k3y@h:1/?dialect=odoo", "database"),
    ("wms://:k3y@h:1/?dialect=odoo&database=d", "login"),
    ("wms://mes_api:k3y@h:1/?dialect=odoo&database=d&route=xmlrpc", "route"),
    ("wms://:k3y@h:1/?database=d", "dialect=odoo"),
    ("wms://:k3y@h:1/?dialect=sap", "dialect"),
])
def test_bad_odoo_settings_are_fatal_and_hide_the_password(uri, fragment):
    with pytest.raises(FatalError) as err:
        WmsConfig.from_uri(uri)
    assert err.value.code == "WMS_CONFIG" and fragment in str(err.value)
    assert "k3y" not in str(err.value)
