"""Partner profiles say how long each inbound message may stay away (``expect.max_quiet_hours``):
FEED_QUIET's input. Mistakes point at the profile's file and line."""
from __future__ import annotations

import datetime as dt

import pytest

from hub.errors import FatalError
from hub.partners import DEFAULT_MAX_QUIET_HOURS, load_partners, parse_profile, render_template

BASE = """partner_id: SUP-9
name: Nine
edi: {our_id: MESHUB, their_id: SUP9}
messages:
  asn: {format: edifact, message: DESADV, version: D96A}
  invoice: {format: xlsx}
  orders: {format: edifact, message: ORDERS, version: D96A}
"""


def test_listed_messages_keep_their_hours_declared_ones_the_default_and_null_switches_off():
    profile = parse_profile(BASE + "expect:\n  max_quiet_hours: {asn: 36.5}\n")
    assert profile.quiet_limits() == {"asn": dt.timedelta(hours=36.5),
                                      "invoice": dt.timedelta(hours=DEFAULT_MAX_QUIET_HOURS)}
    off = parse_profile(BASE + "expect:\n  max_quiet_hours:\n    asn: null\n    invoice: null\n")
    assert off.quiet_limits() == {}   # outbound orders are never watched: we send them
    assert parse_profile(BASE).quiet_limits()["asn"] == dt.timedelta(hours=DEFAULT_MAX_QUIET_HOURS)


def test_shipped_profiles_and_the_template_expect_asns():
    for profile in load_partners().values():
        assert profile.quiet_limits()["asn"] == dt.timedelta(hours=72), profile.partner_id
    assert parse_profile(render_template("SUP-777")).quiet_limits() == {"asn": dt.timedelta(hours=168)}


@pytest.mark.parametrize("expect, line, words", [
    ("expect:\n  max_quiet_hours:\n    orders: 24\n", 9, "orders: we send these"),
    ("expect:\n  max_quiet_hours:\n    order_response: 24\n", 8, "order_response, which `messages` does not declare"),
    ("expect:\n  max_quiet_hours:\n    asn: '24'\n", 10, "valid number"),
    ("expect:\n  max_quiet_hours:\n    asn: yes\n", 10, "valid number"),
    ("expect:\n  max_quiet_hours:\n    asn: 0\n", 10, "greater than 0"),
    ("expect:\n  max_quiet_hours:\n    asn: .nan\n", 10, "finite"),
    ("expect:\n  max_quiet_hours:\n    asn: 1.0e+12\n", 10, "less than or equal to 87600"),
    ("expect:\n  max_quiet_hours:\n    asn: 24\n    asn: 48\n", 11, "duplicate key 'asn'"),
    ("expect:\n  max_quiet_hours:\n    shipment: 24\n", 10, "shipment"),
    ("expect:\n  max_quiet: 24\n", 9, "max_quiet"),
])
def test_mistakes_name_the_profile_line(expect, line, words):
    with pytest.raises(FatalError) as bad:
        parse_profile(BASE + expect, "mappings/partners/SUP-9.yaml")
    assert bad.value.code == "PARTNER_PROFILE_INVALID"
    assert bad.value.where == f"mappings/partners/SUP-9.yaml:{line}", bad.value.as_line()
    assert words in bad.value.message
