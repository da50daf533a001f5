"""Generated JSON Schemas of the canonical documents (committed under canonical_model/schemas/).

Partners and other teams read these files; a test fails when they are stale, and
``python -m canonical_model.json_schemas`` regenerates them.
"""
from __future__ import annotations

import json
from pathlib import Path

from canonical_model.documents import DOCUMENT_TYPES

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


def render() -> dict[str, str]:
    return {f"{name}.json": json.dumps(model.model_json_schema(mode="serialization"), indent=2, ensure_ascii=False) + "\n"
            for name, model in DOCUMENT_TYPES.items()}


def write() -> list[Path]:
    SCHEMA_DIR.mkdir(exist_ok=True)
    written = []
    for filename, text in render().items():
        path = SCHEMA_DIR / filename
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write():
        print(p)
