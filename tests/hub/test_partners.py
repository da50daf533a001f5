"""Partner profiles: the shipped ones, the template, rollout stages and file:line errors."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest

from hub.errors import FatalError
from hub.partners import (
    PARTNER_DIR,
    TEMPLATE_PATH,
    crosswalk_rows,
    get_partner,
    load_partners,
    load_profile,
    parse_profile,
    pushes_enabled,
    render_template,
)
from mappings.crosswalk import Crosswalk, load_crosswalk


def write_profile(folder: Path, partner_id: str, **replace: str) -> Path:
    text = render_template(partner_id, f"Partner {partner_id}")
    for old, new in replace.items():
        assert old in text, old  # a replacement that does not apply would test nothing
        text = text.replace(old, new)
    path = folder / f"{partner_id}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def test_shipped_profiles_keep_the_fields_the_flows_use():
    partners = load_partners(PARTNER_DIR)
    assert set(partners) >= {"SUP-001", "SUP-002"}
    sup1, sup2 = partners["SUP-001"], partners["SUP-002"]
    assert (sup1.sftp_conn_id, sup1.channel, sup1.edi.our_id, sup1.edi.their_id) == (
        "supplier_sftp_sup001", "sftp", "MESHUB", "SUP-001")
    assert sup1.edi.charset_policy == "lenient" and sup2.edi.charset_policy == "strict"
    assert sup1.inbound.over_ship_tolerance_pct == Decimal("5") and sup1.inbound.batch_required
    assert sup2.inbound.all_or_nothing and not sup2.inbound.batch_required
    # the demo pushes their documents to ERP/WMS: they must stay live
    assert pushes_enabled("SUP-001") and pushes_enabled("SUP-002")
    assert sup1.messages["asn"].mapping_path().name == "DESADV_D96A.yaml"
    assert sup1.identity.erp_codes == {"kingdee": "SUP-001"} and sup1.supplier_id == "SUP-001"


def test_only_live_partners_push(tmp_path: Path):
    for partner_id, stage in (("P-PILOT", "pilot"), ("P-PAR", "parallel"), ("P-LIVE", "live")):
        write_profile(tmp_path, partner_id, **{"stage: pilot": f"stage: {stage}"})
    assert [pushes_enabled(p, tmp_path) for p in ("P-PILOT", "P-PAR", "P-LIVE")] == [False, False, True]
    with pytest.raises(FatalError) as exc:
        pushes_enabled("P-NOBODY", tmp_path)
    assert exc.value.code == "UNKNOWN_PARTNER"


def test_a_profile_without_stage_is_pilot_so_it_never_pushes_by_accident(tmp_path: Path):
    path = write_profile(tmp_path, "P-QUIET")
    path.write_text("\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                              if not line.startswith("stage:")), encoding="utf-8")
    assert load_profile(path).stage == "pilot" and not pushes_enabled("P-QUIET", tmp_path)


def test_template_is_valid_and_never_taken_for_a_partner(tmp_path: Path):
    assert TEMPLATE_PATH.parent != PARTNER_DIR
    profile = parse_profile(render_template("SUP-777", 'Name: with "quotes" # and 中文'))
    assert profile.name == 'Name: with "quotes" # and 中文'
    assert profile.sftp_conn_id == "supplier_sftp_sup777" and profile.stage == "pilot"
    # drafts next to real profiles are ignored too
    write_profile(tmp_path, "SUP-777")
    (tmp_path / "_draft.yaml").write_text("not: a profile\n", encoding="utf-8")
    assert list(load_partners(tmp_path)) == ["SUP-777"]


@pytest.mark.parametrize("bad_id", ["sup-1", "../etc", "A", "SUP 1", "SUP/1", "X" * 40])
def test_template_refuses_unusable_ids(bad_id: str):
    with pytest.raises(FatalError) as exc:
        render_template(bad_id)
    assert exc.value.code == "PARTNER_ID_INVALID"


@pytest.mark.parametrize("old, new, needle, words", [
    ("  over_ship_tolerance_pct: 0", "  over_ship_tolerance_pct: lots", "over_ship_tolerance_pct",
     "inbound.over_ship_tolerance_pct"),
    ("timezone: Asia/Shanghai", "timezone: Mars/Olympus", "timezone:", "unknown IANA timezone"),
    ("stage: pilot", "stage: golive", "stage: golive", "stage"),
    ("  asn: {format: edifact, message: DESADV, version: D96A}", "  asn: {format: edifact, message: DESADV}",
     "  asn:", "needs message and version"),
    ("  orders: {format", "  bananas: {format", "bananas", "messages.bananas"),
    ("  after_collect: archive", "  after_collect: archive\n  inbox_folder: ../../etc", "inbox_folder",
     "sftp.inbox_folder"),
    ("crosswalks: {}", "crosswalks: {colours: {R: RED}}", "crosswalks:", "colours"),
    ("  charset_policy: strict", "  charset_policy: strict\n  charset_policy: lenient", "charset_policy: lenient",
     "duplicate key"),
    ("  syntax: UNOC", "  syntax: [UNOC", "  syntax:", "YAML syntax"),
])
def test_profile_errors_name_file_and_line(tmp_path: Path, old: str, new: str, needle: str, words: str):
    path = write_profile(tmp_path, "SUP-BAD", **{old: new})
    with pytest.raises(FatalError) as exc:
        load_profile(path)
    assert exc.value.code == "PARTNER_PROFILE_INVALID"
    file, _, line = exc.value.where.rpartition(":")
    assert file == str(path) and words in exc.value.message
    if words != "YAML syntax":  # the parser reports where it gave up, which may be a line later
        assert int(line) == line_of(path, needle), exc.value.as_line()


def test_partner_id_must_match_the_file_name(tmp_path: Path):
    path = write_profile(tmp_path, "SUP-010")
    path.rename(tmp_path / "SUP-011.yaml")
    with pytest.raises(FatalError) as exc:
        load_partners(tmp_path)
    assert exc.value.where == f"{tmp_path / 'SUP-011.yaml'}:{line_of(tmp_path / 'SUP-011.yaml', 'partner_id:')}"
    assert "differs from the file name" in exc.value.message


def test_profiles_are_reread_when_files_change(tmp_path: Path):
    write_profile(tmp_path, "SUP-020")
    assert get_partner("SUP-020", tmp_path).stage == "pilot"
    path = write_profile(tmp_path, "SUP-020", **{"stage: pilot": "stage: live"})
    # a different mtime even on coarse-grained file systems
    stamp = path.stat().st_mtime + 5
    import os

    os.utime(path, (stamp, stamp))
    write_profile(tmp_path, "SUP-021")
    assert get_partner("SUP-020", tmp_path).stage == "live" and set(load_partners(tmp_path)) == {"SUP-020", "SUP-021"}


def test_partner_crosswalk_rows_win_over_shared_rows_in_a_lookup(tmp_path: Path):
    write_profile(tmp_path, "SUP-030", **{
        "crosswalks: {}": "crosswalks: {units: {PK: XPK, PCS: H87}}",
        "  their_id: SUP-030": "  their_id: '4012345000009'",
        "  erp_codes: {}": "  erp_codes: {kingdee: VEN-30}",
    })
    rows = crosswalk_rows("units", tmp_path)
    # under the partner id (flows) and the EDI sender id (hub translate without --partner)
    assert rows == {("SUP-030", "PK"): "XPK", ("4012345000009", "PK"): "XPK",
                    ("SUP-030", "PCS"): "H87", ("4012345000009", "PCS"): "H87"}
    assert crosswalk_rows("partners", tmp_path) == {("kingdee", "VEN-30"): "SUP-030"}
    # merged into the shared table the way mappings/crosswalk.py would (see hub/partners.py doc)
    shared = load_crosswalk("units")
    merged = Crosswalk("units", {**shared.entries, **rows})
    assert merged.lookup("PK", ("SUP-030", "edifact")) == "XPK"
    assert merged.lookup("PK", ("SUP-999", "edifact")) == shared.lookup("PK", ("SUP-999", "edifact"))
    assert merged.lookup("PCS", ("4012345000009", "edifact")) == "H87"


def test_sftp_config_takes_folders_and_minimum_age_from_the_profile(tmp_path: Path, monkeypatch):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_SUP040",
                       f"sftp://sup040:pw@127.0.0.1:2222/?known_hosts={quote(str(known_hosts), safe='')}")
    path = write_profile(tmp_path, "SUP-040", **{"  after_collect: archive": "  after_collect: delete\n"
                                                                            "  inbox_folder: outgoing/asn"})
    config = load_profile(path).sftp_config()
    assert (config.inbox_folder, config.outbox_folder, config.min_file_age_seconds) == ("outgoing/asn", "in", 10)


def test_local_time_is_on_the_partners_clock(tmp_path: Path):
    profile = load_profile(write_profile(tmp_path, "SUP-050", **{"timezone: Asia/Shanghai": "timezone: Europe/Berlin"}))
    assert profile.local_time(dt.datetime(2026, 7, 1, 12, 0)).hour == 14


def test_message_names_directions_and_documents_agree():
    import typing

    from hub.partners import MESSAGE_DIRECTIONS, MESSAGE_DOCUMENTS, MessageKey
    from canonical_model.documents import DOCUMENT_TYPES

    assert set(typing.get_args(MessageKey)) == set(MESSAGE_DIRECTIONS) == set(MESSAGE_DOCUMENTS)
    assert set(MESSAGE_DOCUMENTS.values()) <= set(DOCUMENT_TYPES)


def test_tabular_messages_take_no_edi_message_or_version(tmp_path: Path):
    ok = load_profile(write_profile(tmp_path, "SUP-060", **{
        "  asn: {format: edifact, message: DESADV, version: D96A}": "  asn: {format: xlsx}"}))
    assert ok.messages["asn"].mapping_path() is None and ok.messages["asn"].describe() == "xlsx"
    with pytest.raises(FatalError) as exc:
        load_profile(write_profile(tmp_path, "SUP-061", **{
            "  asn: {format: edifact, message: DESADV, version: D96A}": "  asn: {format: csv, message: DESADV}"}))
    assert "takes no message/version" in exc.value.message
