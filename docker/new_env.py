"""Make the .env that docker-compose.yml needs, with fresh random secrets:

    python3 docker/new_env.py            # writes .env next to docker-compose.yml
    python3 docker/new_env.py PATH

Copies .env.example and fills every empty ``NAME=`` line of its docker compose section (the lines
after ``COMPOSE_SECTION``) with a new value: a Fernet key for ``AIRFLOW_FERNET_KEY``, 24 random bytes
in hex for the others (hex needs no escaping in the URIs and JSON Connections the compose file
builds from them). Lines above the section are copied as they are. Refuses to overwrite a file;
the new one is mode 600. Standard library only, so it runs before any virtualenv exists.
"""
from __future__ import annotations

import base64
import os
import re
import secrets
import sys
from pathlib import Path
from typing import Callable, Optional

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / ".env.example"
COMPOSE_SECTION = "# ==== docker compose"
_EMPTY_ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=\s*$")


def fernet_key() -> str:
    """What ``cryptography.fernet.Fernet.generate_key()`` returns: 32 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def secret_for(name: str) -> str:
    return fernet_key() if name == "AIRFLOW_FERNET_KEY" else secrets.token_hex(24)


def compose_variables(example: str) -> list[str]:
    """The names the compose section asks for (its empty ``NAME=`` lines), in file order."""
    _, marker, section = example.partition(COMPOSE_SECTION)
    if not marker:
        raise ValueError(f".env.example has no line starting with {COMPOSE_SECTION!r}")
    return [m.group(1) for line in section.splitlines() if (m := _EMPTY_ASSIGNMENT.match(line))]


def fill(example: str, make: Callable[[str], str] = secret_for) -> str:
    head, marker, section = example.partition(COMPOSE_SECTION)
    if not marker:
        raise ValueError(f".env.example has no line starting with {COMPOSE_SECTION!r}")
    lines = []
    for line in section.splitlines(keepends=True):
        match = _EMPTY_ASSIGNMENT.match(line)
        lines.append(f"{match.group(1)}={make(match.group(1))}\n" if match else line)
    return head + marker + "".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print(__doc__, file=sys.stderr)
        return 2
    target = Path(args[0]) if args else REPO_ROOT / ".env"
    try:
        example = EXAMPLE.read_text(encoding="utf-8")
        text = fill(example)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"error: {target} exists; it may hold the secrets your volumes were made with. Move it away first.",
              file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(f"wrote {target} (mode 600) with new secrets for {', '.join(compose_variables(example))}; "
          "keep it out of version control")
    return 0


if __name__ == "__main__":
    sys.exit(main())
