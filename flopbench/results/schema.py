"""The JSON schemas of flopbench's outputs, shipped in the package (flopbench/results/schemas/*.json),
one per result kind; tests/test_results_roundtrip.py checks each against its kind's dataclass."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from .kinds import kind_modules


@lru_cache(maxsize=None)
def load_schema(kind: str) -> dict[str, Any]:
    if kind not in kind_modules():
        raise KeyError(f"no schema {kind!r}; have {', '.join(sorted(kind_modules()))}")
    return json.loads(resources.files("flopbench.results").joinpath("schemas", f"{kind}.json").read_text(encoding="utf-8"))


def validate(document: dict[str, Any]) -> None:
    """Check a flopbench JSON document against the schema its "schema" field names (needs jsonschema)."""
    import jsonschema

    name = str(document.get("schema", ""))
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != "flopbench":
        raise ValueError(f"not a flopbench document: schema {name!r}")
    jsonschema.validate(document, load_schema(parts[1]))
