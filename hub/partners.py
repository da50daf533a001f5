"""Partner profiles (mappings/partners/<id>.yaml): onboarding a supplier is data, not code."""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from hub.errors import FatalError

PARTNER_DIR = Path(__file__).resolve().parent.parent / "mappings" / "partners"


class EdiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    standard: Literal["edifact"] = "edifact"
    our_id: str
    their_id: str
    syntax: str = "UNOC"
    charset_policy: Literal["strict", "lenient"] = "lenient"


class InboundSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_file_age_seconds: int = 10
    over_ship_tolerance_pct: Decimal = Decimal("0")
    batch_required: bool = False
    all_or_nothing: bool = False


class PartnerProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    partner_id: str
    name: str
    channel: Literal["sftp"] = "sftp"
    sftp_conn_id: str = "supplier_sftp_default"
    edi: EdiSettings
    inbound: InboundSettings = InboundSettings()


@lru_cache(maxsize=None)
def load_partners(folder: Path = PARTNER_DIR) -> dict[str, PartnerProfile]:
    profiles: dict[str, PartnerProfile] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            profile = PartnerProfile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (ValidationError, yaml.YAMLError) as exc:
            raise FatalError("PARTNER_PROFILE_INVALID", str(exc).splitlines()[0], str(path)) from exc
        if profile.partner_id != path.stem:
            raise FatalError("PARTNER_PROFILE_INVALID", f"partner_id {profile.partner_id!r} differs from file name",
                             str(path))
        profiles[profile.partner_id] = profile
    return profiles


def get_partner(partner_id: str) -> PartnerProfile:
    try:
        return load_partners()[partner_id]
    except KeyError:
        raise FatalError("UNKNOWN_PARTNER", f"no partner profile {partner_id}.yaml in {PARTNER_DIR}",
                         partner_id) from None
