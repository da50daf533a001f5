"""hub.connections: the one way every adapter reads an Airflow Connection."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.connections import ConnectionParts, get_connection, parse_connection
from hub.errors import FatalError

SECRET = "pw-Conn-9f3e!@:/ x"  # distinctive, and full of characters that need percent-encoding
QUOTED = "pw-Conn-9f3e%21%40%3A%2F%20x"


def test_uri_form_is_percent_decoded_with_extras():
    conn = parse_connection(f"sftp://sup%40001:{QUOTED}@Files.Example.com:2222/in%20box"
                            "?known_hosts=%2Fsrv%2Fknown_hosts&timeout=5&empty=", "supplier_sftp_sup001")
    assert conn == ConnectionParts(conn_id="supplier_sftp_sup001", conn_type="sftp", host="files.example.com",
                                   port=2222, schema="in box", login="sup@001", password=SECRET,
                                   extra={"known_hosts": "/srv/known_hosts", "timeout": "5", "empty": ""})
    assert conn.extra_dejson == conn.extra


def test_uri_form_packed_extra_json_and_host_protocol():
    extra = {"acct_id": "64f1a0", "lcid": 1033, "nested": {"a": [1, 2]}}
    packed = json.dumps(extra).replace('"', "%22").replace(" ", "%20").replace(",", "%2C")
    conn = parse_connection(f"kingdee://mes_api:{QUOTED}@erp:80/k3cloud?__extra__={packed}", "kingdee_default")
    assert conn.extra_dejson == extra and conn.password == SECRET
    assert (conn.host, conn.port, conn.schema) == ("erp", 80, "k3cloud")
    # Airflow's two-scheme form keeps the host's protocol
    conn = parse_connection(f"kingdee://https://mes_api:{QUOTED}@erp.example.com/k3cloud", "k")
    assert (conn.host, conn.login, conn.password) == ("https://erp.example.com", "mes_api", SECRET)
    assert parse_connection("google-cloud-platform://", "g").conn_type == "google_cloud_platform"


@pytest.mark.parametrize("extra", [{"page_size": 7, "dialect": "greaterwms"},
                                   json.dumps({"page_size": 7, "dialect": "greaterwms"})],
                         ids=["extra-dict", "extra-string"])
def test_json_form_with_extra_as_dict_or_string(extra):
    value = json.dumps({"conn_type": "wms", "host": "h", "port": "8603", "schema": "https", "login": None,
                        "password": SECRET, "extra": extra})
    conn = parse_connection(value, "wms_default")
    assert conn == ConnectionParts(conn_id="wms_default", conn_type="wms", host="h", port=8603, schema="https",
                                   login=None, password=SECRET, extra={"page_size": 7, "dialect": "greaterwms"})


def test_same_result_as_airflows_own_parser():
    Connection = pytest.importorskip("airflow.sdk").Connection
    for value in (f"sftp://sup001:{QUOTED}@127.0.0.1:2222/?known_hosts=%2Fk&min_file_age_seconds=0",
                  f"kingdee://https://mes_api:{QUOTED}@erp.example.com:8090/K3Cloud?acct_id=1",
                  "wms://:tok@h/https?__extra__=%7B%22page_size%22%3A%207%7D",
                  json.dumps({"conn_type": "sftp", "host": "h", "port": 22, "login": "u", "password": SECRET,
                              "extra": {"known_hosts": "/k"}})):
        ours = parse_connection(value, "c")
        theirs = Connection.from_json(value, conn_id="c") if value.startswith("{") else \
            Connection.from_uri(value, conn_id="c")
        for name in ("conn_type", "host", "port", "schema", "login", "password"):
            assert (getattr(ours, name) or None) == (getattr(theirs, name) or None), (value, name)
        assert ours.extra_dejson == theirs.extra_dejson


def test_environment_variable_is_read_first(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_HUB_TEST_CONN", f"  wms://:{QUOTED}@h:1/  ")
    conn = get_connection("hub_test_conn")
    assert isinstance(conn, ConnectionParts) and conn.password == SECRET and conn.conn_id == "hub_test_conn"


def test_missing_connection_names_the_environment_variable(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_HUB_TEST_ABSENT", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_HUB_TEST_EMPTY", "")  # set but empty counts as not set
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))  # an empty Airflow: no stored Connections either
    for conn_id in ("hub_test_absent", "hub_test_empty"):
        with pytest.raises(FatalError) as err:
            get_connection(conn_id)
        assert err.value.code == "CONNECTION_MISSING" and err.value.where == conn_id
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in err.value.message and ".env.example" in err.value.message


@pytest.mark.parametrize("value", [
    f"sftp://u:{QUOTED}@h:99999/",                      # port out of range
    f"sftp://u:{QUOTED}@[h:22/",                        # broken IPv6 bracket
    f"u:{SECRET}@h",                                    # no scheme at all
    f"http://https://u:{SECRET}@https://h/",            # three schemes
    f"kingdee://u:{QUOTED}@h/?__extra__=%7B{SECRET}",   # __extra__ not JSON
    f'{{"conn_type": "sftp", "password": "{SECRET}", ',  # truncated JSON
    json.dumps({"conn_type": "sftp", "password": SECRET, "port": "twenty-two"}),
    json.dumps({"conn_type": "sftp", "password": SECRET, "extra": f"{{{SECRET}"}),
    json.dumps({"conn_type": "sftp", "password": SECRET, "extra": [SECRET]}),
    json.dumps({"conn_type": "sftp", "passwd": SECRET}),
    json.dumps([SECRET]),
])
def test_malformed_value_is_invalid_and_never_echoed(value, monkeypatch):
    with pytest.raises(FatalError) as err:
        parse_connection(value, "hub_test_bad")
    assert err.value.code == "CONNECTION_INVALID" and err.value.where == "hub_test_bad"
    text = str(err.value) + repr(err.value) + repr(err.value.__cause__) + repr(err.value.__context__)
    assert SECRET not in text and QUOTED not in text and "pw-Conn" not in text
    monkeypatch.setenv("AIRFLOW_CONN_HUB_TEST_BAD", value)  # the same through get_connection
    with pytest.raises(FatalError, match="CONNECTION_INVALID"):
        get_connection("hub_test_bad")


def test_repr_shows_neither_password_nor_extra_values():
    conn = parse_connection(f"kingdee://mes_api:{QUOTED}@erp/k3cloud?acct_id=1&app_secret=zz-Top-secret",
                            "kingdee_default")
    assert conn.password == SECRET and conn.extra_dejson["app_secret"] == "zz-Top-secret"
    for text in (repr(conn), str(conn)):
        assert "pw-Conn" not in text and "zz-Top" not in text
        assert "mes_api" in text and "app_secret" in text  # still useful evidence
    with pytest.raises(AttributeError):
        conn.host = "elsewhere"  # frozen


@pytest.mark.parametrize("schema, extra, expected", [
    ("http", {}, "http://erp.local:8080/k3cloud"),                      # Airflow HTTP convention
    ("https", {"path": "/K3Cloud/"}, "https://erp.local:8080/K3Cloud"),
    ("k3cloud", {}, "http://erp.local:8080/k3cloud"),                   # URI form: the path
    (None, {"protocol": "https"}, "https://erp.local:8080/k3cloud"),
    ("HTTPS", {"path": ""}, "https://erp.local:8080"),
])
def test_http_base_url_reads_schema_as_protocol_or_path(schema, extra, expected):
    from hub.connections import http_base_url

    extra = dict(extra)
    assert http_base_url("erp.local", 8080, schema, extra, "k3cloud") == expected
    assert "path" not in extra and "protocol" not in extra  # consumed, so unknown-extra checks pass


def test_http_base_url_keeps_a_scheme_pasted_into_host():
    from hub.connections import http_base_url

    assert http_base_url("https://erp.local/", None, "http", {}, "U9C") == "https://erp.local/U9C"
