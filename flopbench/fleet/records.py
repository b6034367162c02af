"""A fleet's results file: one record per point, written atomically each time a point ends.

The document (`flopbench/fleet/1`) holds the driver's metadata, every node that ran a point with its
own machine metadata, and the points in the order they ended. A record is "done" with its result,
or "failed" with the reason; `attempts` lists the tries that a dying node or worker cut short. A
record is a `FleetPointRecord`, typed and frozen; its result is kept as the document the node
returned (of the kind its command makes: `FleetResult.bench_reports()` reads them). The file is
rewritten whole (a temporary file renamed into place), so a crash or Ctrl-C leaves the last complete
version; records are kept as encoded JSON, so a rewrite costs a join, not a re-encoding.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import ResultFileError
from ..results.codec import encode, json_field, kind_of, result_kind, schema_of
from ..results.documents import check_mergeable, read_document, result_from_dict
from ..results.status import DONE, FAILED, POINT_STATUSES
from ..results.writing import check_writable, write_text_atomic


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """A try of a point that a node or worker dying cut short."""

    node_id: str
    hostname: str | None = json_field(omit_none=True, default=None)
    error: str


@dataclass(frozen=True, kw_only=True)
class FleetPointRecord:
    """One point that ended: DONE with the result its node returned, or FAILED with the reason."""

    key: str
    point: Mapping[str, Any]  # as given (a bench point, a study point)
    status: str  # DONE or FAILED (results.status)
    node_id: str | None  # the node that ran it (None: it never reached one)
    hostname: str | None
    started_at: float | None  # seconds since the epoch, on the node's clock
    finished_at: float | None
    attempts: tuple[Attempt, ...] = ()
    error: str | None = None
    result: Mapping[str, Any] | None = None  # the point's result document (flopbench/bench/1 for bench points)

    def __post_init__(self):
        if self.status not in POINT_STATUSES:
            raise ValueError(f"point record {self.key!r} has status {self.status!r}")

    @property
    def done(self) -> bool:
        return self.status == DONE

    @property
    def on_node(self) -> str | None:
        """The node the point was for: the one it was pinned to (fleet bench, fleet profile), else the one that ran it."""
        return self.point.get("node_id") or self.node_id

    @property
    def seconds(self) -> float | None:
        """How long the node took (None when the point never ran on one)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@result_kind("fleet", version=1)
@dataclass(frozen=True)
class FleetResult:
    """What a fleet run gathered: per point, its status, node, times and result."""

    command: str  # "bench" or "profile" (one result per node) or "sweep" (points spread over the nodes)
    complete: bool
    metadata: Mapping[str, Any]
    nodes: dict[str, dict[str, Any]]  # node_id -> {"hostname", "address", "machine"}
    interrupted: bool = False
    points: tuple[FleetPointRecord, ...] = ()  # last in the document: `FleetLog.write` appends them as encoded

    @property
    def done(self) -> list[FleetPointRecord]:
        return [p for p in self.points if p.status == DONE]

    @property
    def failed(self) -> list[FleetPointRecord]:
        return [p for p in self.points if p.status == FAILED]

    def machine(self, node_id: str) -> dict[str, Any]:
        return self.nodes.get(node_id, {}).get("machine", {})

    def bench_reports(self) -> list[NodeReport]:
        """The `BenchReport` of every done bench point, each with its node's metadata, as a
        `NodeReport`: `.report`, `.record` (the point: node, tries, seconds) and `.node_id`."""
        from ..measure.bench import BenchReport

        return [NodeReport(record, result) for record, result in self._results_of(BenchReport)]

    def profile_results(self) -> list[NodeReport]:
        """The `ProfileResult` of every done profile point, each on its node's own roofline, as a
        `NodeReport` (`.report` is the profile)."""
        from ..profiling.profile import ProfileResult

        return [NodeReport(record, result) for record, result in self._results_of(ProfileResult)]

    def series(self, node_ids: list[str] | None = None, allow_different_machines: bool = False) -> list[FleetPointRecord]:
        """The done records of the named nodes (all by default) as one series: refused when their
        machines differ, unless asked (the results package's merge rule)."""
        chosen = [r for r in self.done if node_ids is None or r.node_id in node_ids]
        check_mergeable([self.machine(node) for node in dict.fromkeys(r.node_id for r in chosen)], allow_different_machines)
        return chosen

    def _results_of(self, cls: type) -> list[tuple[FleetPointRecord, Any]]:
        """(record, result) of every done point whose result is of `cls`'s kind, any version it reads."""
        kind = kind_of(schema_of(cls))[0]
        # checked as a file of its own would be: the fleet file's schema describes a result only in outline
        return [(record, result_from_dict(record.result, f"the result of point {record.key}")) for record in self.done
                if isinstance(record.result, Mapping) and (kind_of(record.result.get("schema")) or ("",))[0] == kind]


class NodeReport(NamedTuple):
    """One node's result in a fleet file: the report (a `BenchReport` or a `ProfileResult`) and the
    record of the point that made it; still a (record, report) pair to unpack."""

    record: FleetPointRecord
    report: Any

    @property
    def node_id(self) -> str:
        return self.record.node_id



FLEET_SCHEMA = schema_of(FleetResult)


def _encode(record: FleetPointRecord) -> str:
    return json.dumps(encode(record), separators=(",", ": "))


@dataclass
class FleetLog:
    """The results file as it grows. Without a path the records are only kept in memory."""

    command: str
    metadata: dict[str, Any]
    path: Path | None = None
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    encoded: dict[str, str] = field(default_factory=dict)  # key -> the record's JSON, in the order points ended
    records: dict[str, FleetPointRecord] = field(default_factory=dict)

    @classmethod
    def open(cls, command: str, metadata: dict[str, Any], path: str | os.PathLike | None = None,
             protect: list[str | os.PathLike] | tuple = ()) -> "FleetLog":
        """A new log, or the one already at `path` (a re-run): its done points are kept and skipped,
        its failed points tried again."""
        if path is None:
            return cls(command=command, metadata=metadata)
        target = check_writable(path, protect=protect)
        log = cls(command=command, metadata=metadata, path=target)
        if target.exists() and target.stat().st_size:
            previous = read_document(target)
            if previous.get("schema") != FLEET_SCHEMA or previous.get("command") != command:
                raise ResultFileError(f"{target.name} holds {previous.get('schema')} results"
                                      + (f" of fleet {previous.get('command')}" if previous.get("schema") == FLEET_SCHEMA else "")
                                      + f", not those of fleet {command}", "name another results file")
            try:
                loaded = FleetResult.from_dict(previous)
            except (KeyError, TypeError, ValueError) as exc:
                raise ResultFileError(f"{target.name} is damaged ({type(exc).__name__}: {exc})",
                                      "move it away and run again, or name another results file") from None
            log.nodes.update(loaded.nodes)
            for record in loaded.points:
                if record.status == DONE:
                    log.records[record.key] = record
                    log.encoded[record.key] = _encode(record)
        return log

    def done_keys(self) -> set[str]:
        return {key for key, record in self.records.items() if record.status == DONE}

    def note_node(self, node_id: str, description: dict[str, Any]) -> None:
        self.nodes[node_id] = description

    def record(self, record: FleetPointRecord) -> None:
        """Keep one ended point (replacing an earlier record of the same key) and write the file."""
        key = record.key
        self.records.pop(key, None)
        self.encoded.pop(key, None)
        self.records[key] = record
        self.encoded[key] = _encode(record)
        self.write(complete=False)

    def result(self, complete: bool, interrupted: bool = False) -> FleetResult:
        return FleetResult(command=self.command, complete=complete, metadata=self.metadata, nodes=dict(self.nodes),
                           points=tuple(self.records.values()), interrupted=interrupted)

    def write(self, complete: bool, interrupted: bool = False) -> None:
        if self.path is None:
            return
        head = encode(FleetResult(command=self.command, complete=complete, metadata=self.metadata, nodes=self.nodes,
                                  interrupted=interrupted))
        del head["points"]  # the records, already encoded one by one, follow as they are
        text = json.dumps(head, indent=1)[:-2] + ',\n "points": [\n' + ",\n".join(self.encoded.values()) + "\n ]\n}\n"
        write_text_atomic(self.path, text)
