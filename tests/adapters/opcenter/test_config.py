"""opcenter_default from Airflow's Connection forms: schema http/https is the protocol, secrets stay secret."""
from __future__ import annotations

import json

import pytest

from adapters.opcenter import OpcenterConfig
from hub.errors import FatalError

SECRET = "cs-Conf-1f2e3d"


def conn(**fields) -> str:
    base = {"conn_type": "http", "host": "mes01.plant.local", "port": 443, "schema": "https", "login": "mes-hub",
            "password": SECRET}
    base.update(fields)
    return json.dumps(base)


def test_json_form_with_https_schema():
    cfg = OpcenterConfig.from_uri(conn(extra={"plant_id": "PLANT01", "timezone": "Asia/Shanghai"}))
    assert cfg.base_url == "https://mes01.plant.local:443"
    assert (cfg.grant_type, cfg.client_id, cfg.client_secret.get_secret_value()) == ("client_credentials", "mes-hub",
                                                                                      SECRET)
    assert cfg.plant_id == "PLANT01" and cfg.zone.key == "Asia/Shanghai"
    assert SECRET not in repr(cfg)


def test_uri_form_and_a_proxy_path():
    cfg = OpcenterConfig.from_uri(f"opcenter://mes-hub:{SECRET}@127.0.0.1:8605/http?path=opcenter&scope=global")
    assert cfg.base_url == "http://127.0.0.1:8605/opcenter"


def test_password_grant_takes_the_user_from_login_and_the_client_from_extras():
    cfg = OpcenterConfig.from_uri(conn(login="PLANT01\\mes_int", password="pw-user-77",
                                       extra={"grant_type": "password", "client_id": "hub",
                                              "client_secret": "cs-extra-88"}))
    assert (cfg.username, cfg.client_id) == ("PLANT01\\mes_int", "hub")
    assert set(cfg.secrets) == {"pw-user-77", "cs-extra-88"}
    with pytest.raises(FatalError) as info:
        OpcenterConfig.from_uri(conn(extra={"grant_type": "password"}))
    assert info.value.code == "OPCENTER_CONFIG" and "extra.client_id" in info.value.message


@pytest.mark.parametrize("fields, words", [
    ({"extra": {"plant": "X"}}, "unknown connection extra(s): plant"),
    ({"login": None}, "login (client id)"),
    ({"host": None}, "host"),
    ({"extra": {"timezone": "Mars/Olympus"}}, "timezone"),
    ({"extra": {"order_set": "Order;drop"}}, "order_set"),
    ({"extra": {"unit_codes": "{not json"}}, "unit_codes"),
])
def test_bad_connections_are_fatal_and_never_echo_the_secret(fields, words):
    with pytest.raises(FatalError) as info:
        OpcenterConfig.from_uri(conn(**fields))
    assert info.value.code == "OPCENTER_CONFIG" and words in info.value.message
    assert SECRET not in str(info.value)


def test_unit_codes_from_a_json_string_extra():
    cfg = OpcenterConfig.from_uri(conn(extra={"unit_codes": json.dumps({"H87": "pcs", "KGM": "kg"})}))
    assert cfg.unit_code("H87") == "pcs" and cfg.unit_code("MTR") == "MTR"


def test_environment_variable_is_read(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OPCENTER_DEFAULT", conn())
    assert OpcenterConfig.from_conn_id().base_url == "https://mes01.plant.local:443"
