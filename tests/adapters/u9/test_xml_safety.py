"""Hostile XML from the server side: an XXE reply must not leak the file, billion laughs must not expand."""
from __future__ import annotations

import pytest

from adapters.u9.hook import SETTINGS
from hub.errors import FatalError, RetriableError

from tests.adapters.u9.conftest import cloud_erp, soap_erp
from tests.adapters.u9.test_push import docs, receipt

MARKER = "TOP-SECRET-u9-xxe-4c1f"


@pytest.fixture()
def secret_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text(f"{MARKER}\n", encoding="utf-8")
    return path


def test_zeep_is_configured_to_refuse_dtds_entities_and_external_fetches():
    assert (SETTINGS.forbid_dtd, SETTINGS.forbid_entities, SETTINGS.forbid_external, SETTINGS.xml_huge_tree) == (
        True, True, True, False)


@pytest.mark.parametrize("kind", ["xxe", "billion_laughs"])
def test_a_hostile_soap_reply_is_refused_unread_and_not_retried(sim, secret_file, kind):
    with soap_erp(sim) as erp:
        sim.state.fail_next(kind, target="IQuerySupplierSV", file=str(secret_file))
        before = len(sim.state.calls)
        records = []
        with pytest.raises(FatalError) as caught:
            for record in erp.pull("suppliers", None):
                records.append(record)
    error = caught.value
    assert error.code == "U9_XML_FORBIDDEN" and records == []
    assert MARKER not in error.as_line() and "lol" not in error.message
    # fatal: no second attempt ("soap <contract>?wsdl" and one Do)
    assert [c for c in sim.state.calls[before:] if not c.endswith("?wsdl")] == ["soap UFIDA.U9.ISV.Supplier.IQuerySupplierSV"]


@pytest.mark.parametrize("kind", ["xxe", "billion_laughs"])
def test_a_hostile_wsdl_is_refused(sim, secret_file, kind):
    with soap_erp(sim) as erp:
        sim.state.fail_next(kind, target="IQueryItemSV?wsdl", file=str(secret_file))
        with pytest.raises(FatalError) as caught:
            list(erp.pull("materials", None))
    assert caught.value.code == "U9_XML_FORBIDDEN" and MARKER not in caught.value.as_line()


def test_a_hostile_reply_to_a_write_leaves_one_document_for_the_rerun(sim, secret_file):
    with soap_erp(sim) as erp:
        sim.state.fail_next("xxe", target="ICreateReceivementSRV", file=str(secret_file))
        with pytest.raises(FatalError):
            erp.push("receipt", receipt(), "RC-XXE")
        assert [d["Status"] for d in docs(sim, "PM_Receivement", "RC-XXE")] == [0]  # created, reply refused
        number = erp.push("receipt", receipt(), "RC-XXE")
    assert [(d["DocNo"], d["Status"]) for d in docs(sim, "PM_Receivement", "RC-XXE")] == [(number, 2)]


@pytest.mark.parametrize("kind", ["xxe", "billion_laughs"])
def test_the_rest_client_never_parses_an_xml_reply(sim, secret_file, kind):
    with cloud_erp(sim, max_attempts=1) as erp:
        sim.state.fail_next(kind, target="CBO_Supplier", file=str(secret_file))
        with pytest.raises(RetriableError) as caught:
            list(erp.pull("suppliers", None))
    assert caught.value.code == "U9C_BAD_RESPONSE" and MARKER not in caught.value.as_line()
