"""Connections -> typed settings, auth failures, and secrets that never reach an error, a repr or a log."""
from __future__ import annotations

import json
import logging
import socket

import pytest

from adapters.u9 import U9CloudConfig, U9CloudHook, U9SoapConfig
from adapters.u9.cloud_hook import sql_string
from adapters.u9.errors import scrub
from hub.errors import FatalError, RetriableError

from tests.adapters.u9.conftest import (CLIENT_ID, CLIENT_SECRET, ENT, ORG_CODE, ORG_ID, USER_CODE, USER_ID,
                                        cloud_config, cloud_erp, soap_erp)


def test_soap_connection_from_the_airflow_json_form():
    config = U9SoapConfig.from_uri(json.dumps({
        "conn_type": "u9", "host": "https://erp.example.com", "port": 8443, "schema": "U9/CUSTService",
        "login": "mes_api", "extra": {"enterprise_id": "010", "org_id": 1001708020135665, "user_id": "1001708020000008",
                                      "org_code": "101", "page_size": 200, "receipt_warehouse": "CK01"}}))
    assert config.base_url == "https://erp.example.com:8443/U9/CUSTService"
    assert (config.org_id, config.page_size, config.user_code) == ("1001708020135665", 200, "mes_api")
    assert dict(config.context_values())["EnterpriseID"] == "010"  # the wire key, not "EnterpriseCode"


def test_cloud_connection_from_a_uri_keeps_the_secret_out_of_repr():
    config = U9CloudConfig.from_uri(f"u9cloud://{USER_CODE}:{CLIENT_SECRET}@erp.example.com/U9C"
                                    f"?client_id={CLIENT_ID}&ent_code={ENT}&org_code={ORG_CODE}")
    assert config.base_url == "http://erp.example.com/U9C"
    assert config.client_secret.get_secret_value() == CLIENT_SECRET
    assert CLIENT_SECRET not in repr(config) and CLIENT_SECRET not in str(config.model_dump())
    assert CLIENT_SECRET not in repr(U9CloudHook(config))


@pytest.mark.parametrize("cls,conn,code,named", [
    (U9SoapConfig, {"conn_type": "u9", "host": "h", "extra": {"enterprise_id": "1", "org_id": "2"}}, "U9_CONFIG",
     "extra.user_id"),
    (U9SoapConfig, {"conn_type": "u9", "host": "h", "extra": {"enterprise_id": "1", "org_id": "2", "user_id": "3",
                                                              "orgid": "typo"}}, "U9_CONFIG", "orgid"),
    (U9SoapConfig, {"conn_type": "u9", "host": "h", "extra": {"enterprise_id": "1", "org_id": "2", "user_id": "3",
                                                              "page_size": "lots"}}, "U9_CONFIG", "page_size"),
    (U9CloudConfig, {"conn_type": "u9cloud", "host": "h", "login": "u", "extra": {"client_id": "c", "ent_code": "e",
                                                                                  "org_code": "o"}}, "U9C_CONFIG",
     "password"),
    (U9CloudConfig, {"conn_type": "u9cloud", "host": "h", "login": "u", "password": CLIENT_SECRET,
                     "extra": {"client_id": "c", "ent_code": "e", "org_code": "o", "timeout": -1}}, "U9C_CONFIG",
     "timeout"),
])
def test_a_broken_connection_is_fatal_and_names_the_field_not_the_value(cls, conn, code, named):
    with pytest.raises(FatalError) as caught:
        cls.from_uri(json.dumps(conn))
    assert caught.value.code == code and named in caught.value.message
    assert CLIENT_SECRET not in caught.value.as_line()


def test_wrong_client_secret_is_fatal_and_the_secret_is_nowhere(sim, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + CLIENT_SECRET
    with cloud_erp(sim, client_secret=wrong) as erp:
        logins = len([c for c in sim.state.calls if "AuthLogin" in c])
        with pytest.raises(FatalError) as caught:
            list(erp.pull("suppliers", None))
    assert caught.value.code == "U9C_AUTH" and CLIENT_ID in caught.value.message
    assert len([c for c in sim.state.calls if "AuthLogin" in c]) == logins + 1  # fatal: asked once
    for text in (caught.value.as_line(), caplog.text):
        assert wrong not in text and CLIENT_SECRET not in text


def test_the_token_never_appears_in_errors(sim, caplog):
    caplog.set_level(logging.DEBUG)
    with cloud_erp(sim, max_attempts=1) as erp:
        list(erp.pull("suppliers", None))
        token = erp.hook._token
        sim.state.fail_next("session_expired", count=2, target="QueryInfoBySql")
        with pytest.raises(FatalError) as caught:
            list(erp.pull("suppliers", None))
    assert token and token not in caught.value.as_line() and token not in caplog.text


def test_connection_refused_on_login_names_no_secret_even_url_encoded(caplog):
    caplog.set_level(logging.DEBUG)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    secret = "p@ss w/rd&=+" + CLIENT_SECRET
    config = U9CloudConfig(base_url=f"http://127.0.0.1:{port}/U9C", client_id=CLIENT_ID,
                           client_secret=secret, ent_code=ENT, org_code=ORG_CODE, user_code=USER_CODE, timeout=2,
                           max_attempts=1)
    with pytest.raises(RetriableError) as caught:
        U9CloudHook(config).login()
    assert caught.value.code == "U9C_UNAVAILABLE" and "AuthLogin" in caught.value.message
    assert scrub(secret, [secret]) == "***"
    for text in (caught.value.as_line(), caplog.text):
        assert CLIENT_SECRET not in text


def test_soap_context_refused_is_fatal_and_names_the_settings(sim):
    with soap_erp(sim, org_id="999") as erp:
        with pytest.raises(FatalError) as caught:
            list(erp.pull("suppliers", None))
    assert caught.value.code == "U9_CONTEXT_INVALID" and "org_id" in caught.value.message
    assert caught.value.where.startswith(f"u9:{ENT}:IQuerySupplierSV")


def test_wrong_services_path_is_fatal(sim):
    with soap_erp(sim, base_url=f"{sim.base_url}/U9/NoSuchServices") as erp:
        with pytest.raises(FatalError) as caught:
            list(erp.pull("suppliers", None))
    assert caught.value.code == "U9_WSDL"
    with cloud_erp(sim, base_url=f"{sim.base_url}/U9X") as erp:
        with pytest.raises(FatalError) as caught:
            list(erp.pull("suppliers", None))
    assert caught.value.code == "U9C_HTTP"


def test_a_sql_schema_error_is_fatal_and_a_bare_internal_error_retriable(sim):
    hook = U9CloudHook(cloud_config(sim))
    with pytest.raises(FatalError) as caught:
        hook.query_sql("SELECT NoSuchColumn FROM PM_PurchaseOrder")
    assert caught.value.code == "U9C_SCHEMA" and "NoSuchColumn" in caught.value.message
    sim.state.fail_next("busy", target="QueryInfoBySql")
    with pytest.raises(RetriableError):
        hook.query_sql("SELECT ID FROM PM_PurchaseOrder")
    hook.close()


def test_sql_literals_cannot_be_closed_from_inside():
    assert sql_string("a'b") == "N'a''b'"
    assert sql_string("x' OR '1'='1") == "N'x'' OR ''1''=''1'"
    with pytest.raises(ValueError):
        sql_string("nul\x00byte")


def test_org_and_user_ids_are_sent_as_the_notes_say(sim):
    with soap_erp(sim) as erp:
        assert dict(erp.hook.config.context_values()) == {
            "OrgID": ORG_ID, "UserID": USER_ID, "EnterpriseID": ENT, "CultureName": "zh-CN",
            "DefaultCultureName": "zh-CN", "Support_CultureNameList": "zh-CN", "UserCode": USER_CODE}
        assert list(erp.pull("suppliers", None))
