"""Supplier -> hub, first step: collect files from the partner's SFTP folder into the inbox.

Collecting and processing are separate steps on purpose: a file is first archived and
recorded in the inbox ledger (committed), and only then archived on the SFTP server, so a
crash between the two can only cause a re-read that the ledger recognises, never a loss.
"""
from __future__ import annotations

from adapters.sftp.config import SftpConfig
from adapters.sftp.hook import SftpHook
from canonical_model.store import Store, ledger
from hub.partners import get_partner

CHANNEL = "sftp"


def collect_files(store: Store, partner_id: str) -> dict[str, int]:
    profile = get_partner(partner_id)
    config = SftpConfig.from_conn_id(profile.sftp_conn_id)
    config = config.model_copy(update={"min_file_age_seconds": profile.inbound.min_file_age_seconds})
    counts = {"new": 0, "duplicate": 0}
    with SftpHook(config) as sftp:
        for remote in sftp.list_ready():
            data = sftp.read_bytes(remote.path)
            with store.session() as session:
                _, is_new = ledger.receive(store, session, channel=CHANNEL, partner=partner_id,
                                           name=remote.name, data=data)
            counts["new" if is_new else "duplicate"] += 1
            # only after the ledger commit: the raw bytes are safe in our archive now
            sftp.archive(remote.path)
    return counts
