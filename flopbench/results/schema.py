"""The JSON schemas of flopbench's outputs, shipped in the package (flopbench/schemas/*.json)."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

KINDS = ("count", "bench", "run", "convert", "quantize", "profile", "machine", "compare", "fleet", "study")


@lru_cache(maxsize=None)
def load_schema(kind: str) -> dict[str, Any]:
    if kind not in KINDS:
        raise KeyError(f"no schema {kind!r}; have {', '.join(KINDS)}")
    return json.loads(resources.files("flopbench.results").joinpath("schemas", f"{kind}.json").read_text(encoding="utf-8"))


def validate(document: dict[str, Any]) -> None:
    """Check a flopbench JSON document against the schema its "schema" field names (needs jsonschema)."""
    import jsonschema

    name = str(document.get("schema", ""))
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != "flopbench":
        raise ValueError(f"not a flopbench document: schema {name!r}")
    jsonschema.validate(document, load_schema(parts[1]))
