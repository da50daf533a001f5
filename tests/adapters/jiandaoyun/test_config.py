"""JiandaoyunConfig from the Connection jiandaoyun_default: URI and JSON forms, secrets hidden."""
from __future__ import annotations

import json

import pytest

from adapters.jiandaoyun import JiandaoyunConfig, JiandaoyunHook
from hub.connections import parse_connection
from hub.errors import FatalError

KEY, SECRET = "k3y-Cfg-a81", "s3cret-Cfg-77"


def _json_conn(**changes) -> str:
    conn = {"conn_type": "http", "host": "api.jiandaoyun.com", "schema": "https", "password": KEY,
            "extra": {"app_id": "64b7c1e2a1b2c3d4e5f60718", "webhook_secret": SECRET,
                      "purchase_task_form": "f1", "asn_form": "f2"}}
    conn.update(changes)
    return json.dumps(conn)


def test_json_connection_schema_is_the_protocol_and_secrets_stay_hidden():
    cfg = JiandaoyunConfig.from_uri(_json_conn())
    assert cfg.base_url == "https://api.jiandaoyun.com/api"
    assert cfg.api_key.get_secret_value() == KEY and cfg.webhook_secret.get_secret_value() == SECRET
    assert cfg.forms == {"purchase_task": "f1", "asn": "f2"}
    assert cfg.form_id("asn") == "f2" and cfg.purpose_of("f1") == "purchase_task" and cfg.purpose_of("zz") is None
    assert set(cfg.secrets) == {KEY, SECRET}
    for text in (repr(cfg), str(cfg), repr(JiandaoyunHook(cfg))):
        assert KEY not in text and SECRET not in text


def test_uri_form_with_port_path_and_aliases_as_json_text():
    aliases = json.dumps({"inspection": {"_widget_1": "batch_id"}})
    cfg = JiandaoyunConfig.from_uri(
        f"http://:{KEY}@jdy.plant.local:8080/https?app_id=a1&inspection_form=f9&page_size=50"
        f"&timezone=Asia/Shanghai&field_aliases={aliases}")
    assert cfg.base_url == "https://jdy.plant.local:8080/api"
    assert cfg.page_size == 50 and cfg.field_aliases == {"inspection": {"_widget_1": "batch_id"}}


@pytest.mark.parametrize("changes, needle", [
    ({"password": None}, "password (API key)"),
    ({"extra": {"webhook_secret": SECRET}}, "extra.app_id"),
    ({"extra": {"app_id": "a", "purchase_taks_form": "f"}}, "purchase_taks_form"),
    ({"extra": {"app_id": "a", "timezone": "Mars/Olympus"}}, "timezone"),
    ({"extra": {"app_id": "a", "page_size": 500}}, "page_size"),
    ({"extra": {"app_id": "a", "field_aliases": "{not json"}}, "field_aliases"),
    ({"extra": {"app_id": "a", "field_aliases": {"nonsense": {}}}}, "field_aliases"),
])
def test_bad_connections_are_fatal_and_name_the_field_not_the_secret(changes, needle):
    with pytest.raises(FatalError) as info:
        JiandaoyunConfig.from_uri(_json_conn(**changes))
    assert info.value.code == "JDY_CONFIG" and needle in info.value.message
    assert KEY not in info.value.as_line() and SECRET not in info.value.as_line()


def test_a_purpose_without_form_is_a_config_error():
    cfg = JiandaoyunConfig.from_uri(_json_conn())
    with pytest.raises(FatalError, match="production_order_form"):
        cfg.form_id("production_order")


def test_from_conn_id_reads_the_environment(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT", _json_conn())
    cfg = JiandaoyunConfig.from_conn_id()
    assert cfg.app_id == "64b7c1e2a1b2c3d4e5f60718"
    assert parse_connection(_json_conn(), "jiandaoyun_default").password == KEY
