"""Partner profiles' crosswalk rows merged into the shared tables (mappings/crosswalk.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub.errors import FatalError
from hub.partners import PARTNER_DIR_ENV, render_template
from hub.translate import translate
from mappings.crosswalk import CROSSWALK_DIR, load_crosswalk


def write_profile(folder: Path, partner_id: str, crosswalks: str, their_id: str | None = None) -> Path:
    text = render_template(partner_id, f"Partner {partner_id}")
    for old, new in (("crosswalks: {}", f"crosswalks: {crosswalks}"),
                     (f"  their_id: {partner_id}", f"  their_id: '{their_id or partner_id}'")):
        assert old in text, old  # a replacement that does not apply would test nothing
        text = text.replace(old, new)
    path = folder / f"{partner_id}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def touch_later(path: Path) -> None:
    # an edit within the file system's mtime granularity would look unchanged; real edits are seconds apart
    stamp = os.stat(path).st_mtime + 5
    os.utime(path, (stamp, stamp))


@pytest.fixture()
def partner_dir(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "partners"
    folder.mkdir()
    monkeypatch.setenv(PARTNER_DIR_ENV, str(folder))
    return folder


DESADV = (
    "UNA:+.? 'UNB+UNOC:3+{sender}:14+6901234000004:14+261124:0815+{ref}'"
    "UNH+1+DESADV:D:96A:UN:EAN005'BGM+351+ASN-{ref}+9'DTM+137:202611240815:203'"
    "NAD+SU+4012345000009::9'NAD+ST+6901234000004::9'CPS+1'"
    "LIN+1++1.02.0033:IN'QTY+12:4:BAG'RFF+ON:CGDD000101'RFF+LI:1'"
    "UNT+11+1'UNZ+1+{ref}'"
)


def translate_bag(sender: str, partner: str | None, ref: str = "REF1"):
    data = DESADV.format(sender=sender, ref=ref).encode()
    return translate(data, f"{ref}.edi", partner)


def test_partner_unit_code_maps_only_for_that_partner(partner_dir: Path):
    write_profile(partner_dir, "SUP-077", "{units: {BAG: H87}}", their_id="4099999000007")
    units = load_crosswalk("units")
    assert units.lookup("BAG", ("SUP-077", "edifact")) == "H87"
    assert units.lookup("BAG", ("4099999000007", "edifact")) == "H87"  # the EDI sender id, for hub translate
    assert units.lookup("BAG", ("SUP-078", "edifact")) is None
    assert units.lookup("BAG", (None, "edifact")) is None
    assert ("SUP-077", "BAG") not in load_crosswalk("units", with_partners=False).entries

    # through a mapping: the flows' partner id, and the interchange sender when no partner is given
    mine = translate_bag("4099999000007", "SUP-077")
    assert mine.errors == [] and [line.uom for line in mine.documents[0].lines] == ["H87"]
    by_sender = translate_bag("4099999000007", None, ref="REF2")
    assert by_sender.errors == [] and by_sender.documents[0].lines[0].uom == "H87"
    other = translate_bag("4012345000009", "SUP-078", ref="REF3")
    assert other.documents == [] and [e.code for e in other.errors] == ["UNKNOWN_UOM"]


def test_profile_row_contradicting_the_csv_is_refused(partner_dir: Path):
    csv_text = (CROSSWALK_DIR / "units.csv").read_text(encoding="utf-8").splitlines()
    x12_pk = next(n for n, row in enumerate(csv_text, 1) if row == "x12,PK,PK")
    # a partner whose EDI id is "x12" is absurd but is the simplest way to meet a CSV row's source
    write_profile(partner_dir, "SUP-079", "{units: {PK: H87}}", their_id="x12")
    with pytest.raises(FatalError) as exc:
        load_crosswalk("units")
    assert exc.value.code == "CROSSWALK_INVALID"
    assert exc.value.where.endswith("partners/SUP-079.yaml")
    assert f"mappings/crosswalks/units.csv:{x12_pk}" in exc.value.message
    assert "'H87'" in exc.value.message and "'PK'" in exc.value.message
    # other tables are not affected by this profile
    assert load_crosswalk("currencies").lookup("CNY", ()) == "CNY"


def test_profile_row_agreeing_with_the_csv_is_fine(partner_dir: Path):
    write_profile(partner_dir, "SUP-080", "{units: {PK: PK}}", their_id="x12")
    assert load_crosswalk("units").lookup("PK", ("x12",)) == "PK"


def test_two_profiles_contradicting_each_other_are_refused(partner_dir: Path):
    write_profile(partner_dir, "SUP-081", "{units: {BAG: H87}}", their_id="4099999000007")
    write_profile(partner_dir, "SUP-082", "{units: {BAG: KGM}}", their_id="4099999000007")
    with pytest.raises(FatalError) as exc:
        load_crosswalk("units")
    assert exc.value.code == "CROSSWALK_INVALID"
    assert "SUP-081.yaml" in exc.value.message and exc.value.where.endswith("SUP-082.yaml")


def test_editing_the_profile_takes_effect_without_restart(partner_dir: Path):
    path = write_profile(partner_dir, "SUP-083", "{units: {BAG: H87}}")
    assert load_crosswalk("units").lookup("BAG", ("SUP-083",)) == "H87"
    assert translate_bag("4012345000009", "SUP-083", ref="REF4").documents[0].lines[0].uom == "H87"

    path.write_text(path.read_text(encoding="utf-8").replace("{units: {BAG: H87}}", "{units: {BAG: KGM}}"),
                    encoding="utf-8")
    touch_later(path)
    assert load_crosswalk("units").lookup("BAG", ("SUP-083",)) == "KGM"
    assert translate_bag("4012345000009", "SUP-083", ref="REF5").documents[0].lines[0].uom == "KGM"

    path.unlink()  # a removed partner's rows go with it
    assert load_crosswalk("units").lookup("BAG", ("SUP-083",)) is None
    assert [e.code for e in translate_bag("4012345000009", "SUP-083", ref="REF6").errors] == ["UNKNOWN_UOM"]
