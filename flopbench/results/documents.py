"""Result documents: every JSON flopbench writes names its schema and carries its metadata, and
loads back into the result object it came from. Results from different machines or engine versions
refuse to merge unless asked (pyperf's rule: numbers from two machines are not one series)."""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import FlopbenchError, ResultFileError
from . import codec, kinds
from .writing import write_text_atomic

MAX_DOCUMENT_BYTES = 1 << 30


def read_document(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON document at `path`, checked to be a flopbench result of a known schema."""
    file = Path(path)
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise ResultFileError(f"cannot read result {file} ({exc.strerror or exc})", "give the path of a JSON file flopbench wrote") from None
    if size > MAX_DOCUMENT_BYTES:
        raise ResultFileError(f"result {file.name} is {size:,} bytes", "a flopbench result is far smaller; check the path")
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"{file.name} is not JSON ({exc})", "give a JSON file written by flopbench (--json or -o FILE.json)") from None
    except OSError as exc:
        raise ResultFileError(f"cannot read result {file} ({exc.strerror or exc})", "give the path of a JSON file flopbench wrote") from None
    schema = document.get("schema") if isinstance(document, dict) else None
    if not isinstance(schema, str) or not schema.startswith("flopbench/"):
        raise ResultFileError(f"{file.name} is not a flopbench result (no \"schema\": \"flopbench/...\")",
                              "give a JSON file written by flopbench (--json or -o FILE.json)")
    try:
        readable(schema)
    except ResultFileError as exc:
        raise ResultFileError(f"{file.name} has {exc.problem}", exc.fix) from None
    return document


def readable(schema: str) -> codec.Kind:
    """The kind that reads documents of `schema` (its module imported), or a ResultFileError saying why none does."""
    parsed = codec.kind_of(schema)
    if parsed is None or kinds.kind(parsed[0]) is None:
        names = ", ".join(sorted(kinds.kind_modules()))
        raise ResultFileError(f"schema {schema}, which this flopbench cannot read", f"it reads the kinds {names}; update flopbench")
    return codec.readable(schema)


def result_from_dict(document: dict[str, Any]) -> Any:
    readable(document.get("schema"))
    try:
        return codec.decode_document(document)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ResultFileError(f"result of schema {document.get('schema')} is incomplete or damaged ({type(exc).__name__}: {exc})",
                              "write it again with flopbench") from None


def load_result(path: str | os.PathLike) -> Any:
    """The result object a flopbench JSON file holds (ModelCost, BenchReport, RunResult, ...)."""
    return result_from_dict(read_document(path))


def save_result(result: Any, path: str | os.PathLike) -> Path:
    """Write a result (any result kind) as JSON, atomically."""
    return write_text_atomic(path, json.dumps(codec.encode(result), indent=2) + "\n")


# what must be equal for two measurements to be one series
MACHINE_KEYS = ("cpu", "cpu_count", "isa")


def machine_differences(first: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """Where two results' metadata say they come from different machines or engine versions."""
    found = [f"{key} {first.get(key)!r} vs {other.get(key)!r}" for key in MACHINE_KEYS if first.get(key) != other.get(key)]
    from ..measure.engines import engine_packages  # results/ is read by every stage: the engines load on use

    a, b = first.get("versions", {}), other.get("versions", {})
    # a file written before an engine was registered records nothing about it: nothing to differ
    found += [f"{name} {a.get(name)} vs {b.get(name)}" for name in engine_packages()
              if name in a and name in b and a[name] != b[name]]
    return found


def check_mergeable(metadatas: Iterable[dict[str, Any]], allow_different_machines: bool = False) -> None:
    items = list(metadatas)
    if allow_different_machines:
        return
    for other in items[1:]:
        differences = machine_differences(items[0], other)
        if differences:
            raise ResultFileError(f"the results come from different machines or engine versions ({'; '.join(differences)})",
                                  "compare them side by side instead, or merge with allow_different_machines=True "
                                  "(--allow-different-machines)")


def data_frame(rows: list[dict[str, Any]]):
    """A result's plain rows as a pandas DataFrame; pandas stays optional."""
    try:
        import pandas
    except ImportError:
        raise FlopbenchError("to_pandas() needs pandas, which is not installed", "pip install pandas, or use .rows() (a list of dicts)") from None
    return pandas.DataFrame(rows)
