"""``hub partner host-key ID [--trust FINGERPRINT]``: is the SFTP host key a partner's Connection pins
still the one its server presents; replace the pin after a rotation the supplier confirmed.

Register in hub/cli.py: ``partner_app.command("host-key")(host_key_command)``.

Without ``--trust`` it prints every key the server presents and every key the Connection's
``known_hosts`` extra pins for it, then ``match`` or why not. With ``--trust SHA256:...`` (the
fingerprint the supplier read out by phone or signed mail) it pins that key, but only when the
server presents exactly that key now; otherwise nothing is written.

Exit 0: the server presents a pinned key (or the confirmed key is now pinned). Exit 1: no pinned
key matches; the confirmed fingerprint is not what the server presents (known_hosts unchanged);
the server is unreachable; the Connection is missing or broken (``WHERE: CODE message`` on
stderr). Exit 2: usage (unknown partner, a --trust value that is not a SHA256 fingerprint).
"""
from __future__ import annotations

from typing import Optional

import typer

from hub.cli_common import table


def host_key(
    partner_id: str = typer.Argument(..., metavar="ID", help="partner id, e.g. SUP-001"),
    trust_fingerprint: Optional[str] = typer.Option(
        None, "--trust", metavar="FINGERPRINT",
        help="pin the server's key with this SHA256 fingerprint, confirmed with the supplier out of band"),
) -> None:
    """Compare the SFTP server's host key with the pinned one; --trust pins a confirmed new key."""
    from hub import host_keys
    from hub.cli_partner import _profile_or_exit
    from hub.errors import HubError

    profile = _profile_or_exit(partner_id)
    if trust_fingerprint is not None and not host_keys.FINGERPRINT_RE.fullmatch(trust_fingerprint.strip()):
        typer.echo(f"host-key: --trust {trust_fingerprint!r} is not a SHA256 fingerprint (SHA256: and 43 base64 "
                   "characters, as `ssh-keygen -lf` prints it)", err=True)
        raise typer.Exit(2)
    try:
        config = profile.sftp_config()
        name = host_keys.known_hosts_name(config.host, config.port)
        pinned = host_keys.pinned_keys(config.known_hosts, name)
        presented = host_keys.presented_keys(config)
    except HubError as exc:
        typer.echo(exc.as_line(), err=True)
        raise typer.Exit(1)

    typer.echo(f"{profile.partner_id}: {config.where} (Connection {profile.sftp_conn_id}); known_hosts "
               f"{config.known_hosts}, entry {name}")
    typer.echo(table(("source", "type", "fingerprint"),
                     [("server", k.key_type, k.fingerprint) for k in presented]
                     + [("pinned", k.key_type, k.fingerprint) for k in pinned]))
    if trust_fingerprint is not None:
        raise typer.Exit(_trust(profile.partner_id, config, name, trust_fingerprint.strip(), presented, pinned))
    raise typer.Exit(_verdict(profile.partner_id, config, pinned, presented))


def _verdict(partner_id: str, config, pinned: list, presented: list) -> int:
    matching = {k.fingerprint for k in pinned} & {k.fingerprint for k in presented}
    if matching:
        typer.echo("match: the server presents the pinned key")
        return 0
    if not pinned:
        problem = (f"NOT PINNED: {config.known_hosts} has no key for this server" if config.known_hosts.is_file()
                   else f"NOT PINNED: {config.known_hosts} does not exist")
    else:
        problem = ("MISMATCH: the server presents none of the pinned keys; this is a host key rotation or a "
                   "man-in-the-middle")
    typer.echo(f"{problem}. Ask the supplier for their key's fingerprint (out of band: phone, signed mail); only "
               f"if it equals the server's above: hub partner host-key {partner_id} --trust SHA256:...")
    return 1


def _trust(partner_id: str, config, name: str, fingerprint: str, presented: list, pinned: list) -> int:
    from hub import host_keys
    from hub.errors import HubError

    chosen = next((k for k in presented if k.fingerprint == fingerprint), None)
    if chosen is None:
        typer.echo(f"{config.where}: HOST_KEY_NOT_PRESENTED the server presents "
                   f"{', '.join(f'{k.key_type} {k.fingerprint}' for k in presented)}, not {fingerprint}; known_hosts "
                   "unchanged. Check the fingerprint with the supplier again: a different key can be a "
                   "man-in-the-middle", err=True)
        return 1
    if [k.fingerprint for k in pinned] == [fingerprint]:
        typer.echo(f"already pinned: {chosen.key_type} {fingerprint}; known_hosts unchanged")
        return 0
    try:
        removed = host_keys.trust(config.known_hosts, name, chosen)
    except HubError as exc:
        typer.echo(exc.as_line(), err=True)
        return 1
    typer.echo(f"trusted {chosen.key_type} {fingerprint} for {name} in {config.known_hosts} "
               f"({removed} old entr{'y' if removed == 1 else 'ies'} removed); check the login with: "
               f"hub partner check {partner_id} --connect")
    return 0
