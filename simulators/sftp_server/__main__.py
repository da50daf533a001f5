"""Serve the supplier SFTP simulator until Ctrl-C.

    SFTP_SIM_USERS="sup001:pw1,sup002:pw2" \
        python -m simulators.sftp_server --root var/sftp --port 2222 --users-from-env

Writes ``<root>/known_hosts`` (the line clients pin) and keeps the host key at
``<root>/ssh_host_ed25519_key`` unless ``--host-key`` says otherwise.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from simulators.sftp_server.server import SftpServer

USERS_ENV = "SFTP_SIM_USERS"

# DEMO ONLY: well-known throwaway credentials so `make demo` works out of the box on 127.0.0.1.
# Never point a real partner at a server started with these.
DEMO_USERS = {"sup001": "demo-sup001", "sup002": "demo-sup002"}


def parse_users(spec: str) -> dict[str, str]:
    """``"sup001:pw1,sup002:pw2"`` -> ``{"sup001": "pw1", "sup002": "pw2"}``.

    Only the first ``:`` splits, so passwords may contain ``:``; they may not contain ``,``.
    """
    users: dict[str, str] = {}
    for number, item in enumerate(filter(None, (part.strip() for part in spec.split(","))), start=1):
        name, sep, password = item.partition(":")
        if not sep or not name or not password:
            # Point at the entry by position only: a malformed entry (e.g. "user=pw") may be
            # nothing but a password.
            raise ValueError(f"{USERS_ENV}: entry #{number} is not in the form user:password")
        users[name] = password
    if not users:
        raise ValueError(f"{USERS_ENV} is set but names no users")
    return users


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.sftp_server", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("var/sftp"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2222)
    parser.add_argument("--host-key", type=Path, default=None, help="default: <root>/ssh_host_ed25519_key")
    parser.add_argument("--known-hosts", type=Path, default=None, help="default: <root>/known_hosts")
    parser.add_argument(
        "--users-from-env",
        action="store_true",
        help=f"read users from ${USERS_ENV} (user:password,...); without it DEMO-ONLY users are used",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.users_from_env and os.environ.get(USERS_ENV):
        try:
            users = parse_users(os.environ[USERS_ENV])
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    else:
        if args.users_from_env:
            print(f"warning: ${USERS_ENV} is empty; using DEMO-ONLY users", file=sys.stderr)
        users = DEMO_USERS
        print(f"DEMO-ONLY credentials in use for users {sorted(users)}; do not expose this server", file=sys.stderr)

    root: Path = args.root
    server = SftpServer(
        root,
        users,
        host=args.host,
        port=args.port,
        host_key_path=args.host_key or root / "ssh_host_ed25519_key",
    )
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    # Block Ctrl-C/SIGTERM before starting (the server thread inherits the mask) and collect
    # them with sigwait: a signal landing anywhere, even between startup and the wait, stays
    # pending and still ends in a clean stop instead of a KeyboardInterrupt mid-setup.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    with server:
        known_hosts = server.write_known_hosts(args.known_hosts or root / "known_hosts")
        print(f"SFTP simulator on {args.host}:{server.port}, users {sorted(users)}; known_hosts: {known_hosts}", flush=True)
        signal.sigwait(stop_signals)
    print("SFTP simulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
