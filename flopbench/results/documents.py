"""Result documents: every JSON flopbench writes names its schema and carries its metadata, and
loads back into the result object it came from. Results from different machines or engine versions
refuse to merge unless asked (pyperf's rule: numbers from two machines are not one series)."""
from __future__ import annotations

import contextlib
import gc
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import FlopbenchError, ResultFileError, one_line
from . import codec, kinds, schema
from .writing import write_text_atomic

MAX_DOCUMENT_BYTES = 1 << 30
MAX_POINTS_FILE_BYTES = 64 << 20  # a sweep's points file (study --points, fleet sweep)


@contextlib.contextmanager
def collector_paused():
    """Reading a document makes millions of small objects (a count of 100,000 layers holds 13
    million values) and no reference cycles: Python's cyclic collector, run again and again over
    everything alive as they pile up, made a large document's load grow faster than its size (and
    a page made from it: each collection while it renders went over the millions again)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():
                # what was made meanwhile is moved to the oldest generation at once: left in the
                # young ones, the first collections after this walked all of it (0.9 s for a count
                # of 100,000 layers still alive, before its page was written). The oldest
                # generation is collected only when it has grown by a quarter since its last
                # collection, as for any long-lived object; a cycle made meanwhile is collected then
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _not_finite(text: str):
    raise ValueError(f"holds {text}, which JSON does not have")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"holds a number too large ({text[:40]})")
    return value


def read_json(path: str | os.PathLike, what: str, error: type[FlopbenchError] = ResultFileError,
              limit: int = MAX_DOCUMENT_BYTES, fix: str = "give a JSON file written by flopbench (--json or -o FILE.json)") -> Any:
    """The JSON in the file at `path` (`what` names it: "result", "points file"), with every refusal
    one `error` that names the file: not a regular file (a FIFO would block, /dev/zero never end),
    larger than `limit`, not UTF-8 JSON, nested too deeply, or holding NaN, Infinity or a number no
    float holds (10**400 as a float)."""
    import stat

    file = Path(path)
    try:
        info = file.stat()
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise error(f"cannot read {what} {file} ({getattr(exc, 'strerror', None) or exc})", fix) from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{what} {file.name} is not a regular file", fix)
    if info.st_size > limit:
        raise error(f"{what} {file.name} is {info.st_size:,} bytes, more than the {limit >> 20} MB a {what} may have", fix)
    try:
        with open(file, "rb") as handle:
            text = handle.read(limit + 1).decode("utf-8")
        with collector_paused():
            return json.loads(text, parse_constant=_not_finite, parse_float=_finite_float)
    except RecursionError:
        raise error(f"{what} {file.name} is nested too deeply to be one flopbench wrote", fix) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{what} {file.name} is not JSON ({one_line(exc, 200)})", fix) from None
    except ValueError as exc:  # from the two parse hooks
        raise error(f"{what} {file.name} {exc}", fix) from None
    except OSError as exc:
        raise error(f"cannot read {what} {file} ({exc.strerror or exc})", fix) from None


def read_document(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON document at `path`, checked to be a flopbench result of a known schema."""
    file = Path(path)
    document = read_json(file, "result")
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


DAMAGED_FIX = "the file was changed or damaged after flopbench wrote it; write it again with flopbench"


def checked(document: Any, kind: str, source: str) -> None:
    """`document` against the schema of `kind` and the sanity bounds, or a ResultFileError naming
    `source` (the file) and the field."""
    try:
        schema.check(document, kind)
    except schema.Mismatch as exc:
        raise ResultFileError(f"{source}: {one_line(exc, 300)}", DAMAGED_FIX) from None


def result_from_dict(document: dict[str, Any], source: str = "the result") -> Any:
    """The result a document holds, once it is checked against its kind's schema (an older version
    after its upgrade); `source` names it in an error (the file's name)."""
    readable(document.get("schema"))
    try:
        with collector_paused():
            kind, data = codec.upgraded(document)
            checked(data, kind.name, source)
            return codec.decode(kind.cls, data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ResultFileError(f"{source} of schema {document.get('schema')} is incomplete or damaged ({type(exc).__name__}: {exc})",
                              "write it again with flopbench") from None


_KEPT_UNTIL_EXIT: list[Any] | None = None  # see keep_until_exit


def keep_until_exit() -> None:
    """From now on, every result `load_result` reads stays alive until the process ends. Only for
    a command's own process that ends without tearing down what it made (cli.main.leave: os._exit
    once the outputs are written): freeing the 400,000 objects read from a count of 100,000 layers
    took half a second of a report that needs none of them once its page is made. The parsed
    document is freed as before (0.2 s more): kept, it stayed beside what the page is made of, and
    the report's peak memory grew by 90 MB."""
    global _KEPT_UNTIL_EXIT
    if _KEPT_UNTIL_EXIT is None:
        _KEPT_UNTIL_EXIT = []


def load_result(path: str | os.PathLike) -> Any:
    """The result object a flopbench JSON file holds (ModelCost, BenchReport, RunResult, ...),
    checked against its schema: a field out of its bounds (a negative latency, a bandwidth of 0, a
    number of 400 digits) is a ResultFileError naming the file and the field."""
    document = read_document(path)
    result = result_from_dict(document, Path(path).name)
    if _KEPT_UNTIL_EXIT is not None:
        _KEPT_UNTIL_EXIT.append(result)
    return result


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
                                  "put them side by side instead (flopbench compare A.json B.json), or, in Python, "
                                  "merge with allow_different_machines=True")


def data_frame(rows: list[dict[str, Any]]):
    """A result's plain rows as a pandas DataFrame; pandas stays optional."""
    try:
        import pandas
    except ImportError:
        raise FlopbenchError("to_pandas() needs pandas, which is not installed", "pip install pandas, or use .rows() (a list of dicts)") from None
    return pandas.DataFrame(rows)
