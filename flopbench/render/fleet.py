"""Render a fleet's results: a column per machine for a fleet benchmark, a summary for a sweep.
Rendering never computes: every number shown is in the result."""
from __future__ import annotations

from typing import Any

from ..fleet.records import FleetResult
from ..results.status import DONE, FAILED
from ..measure.engines import DEFAULT_ENGINE, engine_packages

UNIT_NS = 1e3  # µs


def node_label(result: FleetResult, node_id: str | None) -> str:
    if not node_id:
        return "(no node)"
    node = result.nodes.get(node_id, {})
    return f"{node.get('hostname') or '?'} {node_id[:8]}"


def _machine_line(result: FleetResult, node_id: str) -> str:
    machine = result.machine(node_id)
    versions = machine.get("versions", {})
    engines = ", ".join(f"{name} {versions[name]}" for name in engine_packages() if versions.get(name))
    return (f"{node_label(result, node_id)}: {machine.get('cpu', '?')}, {machine.get('cpu_count', '?')} cores, "
            f"{result.nodes.get(node_id, {}).get('address', '?')}; {engines}")


def _latency(result: dict[str, Any]) -> int | None:
    latency = result.get("engine_latency") or result.get("call_latency")
    return latency["median_ns"] if latency else None


def fleet_bench_table(result: FleetResult):
    """Median latency (µs) and throughput of each model and engine, a column per node."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    node_ids = list(dict.fromkeys(p.on_node for p in result.points))
    table = Table(title="Median latency (µs) · throughput (FPS), per node", title_justify="left")
    table.add_column("Model")
    table.add_column("Engine")
    for node_id in node_ids:
        table.add_column(node_label(result, node_id), justify="right")
    cells: dict[tuple[str, str], dict[str, str]] = {}
    roofs: dict[tuple[str, str], str] = {}
    for record in result.points:
        node_id = record.on_node
        model = record.point["model"]
        if record.status == FAILED:
            for engine in record.point.get("engines") or [DEFAULT_ENGINE]:
                cells.setdefault((model, engine), {})[node_id] = "failed"
            continue
        for engine, entry in record.result["metadata"].get("rooflines", {}).items():
            roofs[(node_id, engine)] = _roof_line(result, node_id, engine, entry["machine"], entry["source"])
        for row in record.result["results"]:
            median = _latency(row)
            text = "—" if median is None else f"{median / UNIT_NS:,.1f} · {row['throughput_fps']:,.0f}"
            cells.setdefault((model, row["engine"]["engine"]), {})[node_id] = text
    for (model, engine), by_node in cells.items():
        table.add_row(model, engine, *(by_node.get(node_id, "") for node_id in node_ids))
    notes = [Text(_machine_line(result, node_id)) for node_id in node_ids if node_id in result.nodes]
    notes += [Text(line) for line in roofs.values()]
    notes += [Text(f"{node_label(result, r.on_node)} {r.point['model']}: failed: {r.error}") for r in result.failed]
    if not result.complete:
        notes.append(Text("incomplete: the run was stopped before every node had measured" if result.interrupted
                          else "incomplete"))
    notes.append(Text("latency = the engine's own where it has one (OpenVINO), else timed around each call; "
                      "each node measured alone (one measurement slot per node)"))
    return Group(table, *notes)


def sweep_summary(result: FleetResult, skipped: int = 0) -> str:
    """A few lines: points done and failed, per node, and why each failed."""
    lines = []
    per_node: dict[str, list[int]] = {}
    for record in result.points:
        counts = per_node.setdefault(record.node_id or "", [0, 0])
        counts[0 if record.status == DONE else 1] += 1
    state = "complete" if result.complete else ("interrupted: what ended is kept" if result.interrupted else "incomplete")
    lines.append(f"{len(result.done)} point(s) done, {len(result.failed)} failed"
                 + (f" ({skipped} already done before this run)" if skipped else "") + f"; {state}")
    for node_id, (done, failed) in per_node.items():
        lines.append(f"  {node_label(result, node_id)}: {done} done, {failed} failed")
    for record in result.failed:
        lines.append(f"  point {record.key} failed: {record.error}")
    return "\n".join(lines) + "\n"


def _roof_line(result: FleetResult, node_id: str, engine: str, roof: dict[str, Any], source: str) -> str:
    peaks = ", ".join(f"{name} {peak['gflops_per_s']:,.0f}" for name, peak in roof["peaks"].items())
    return (f"{node_label(result, node_id)} {engine} roofline: peak GFLOP/s {peaks}; memory {roof['bandwidth_gb_per_s']:,.1f} GB/s "
            f"({'quick' if roof['quick'] else 'full'} measurement; {source})")


def fleet_profile_table(result: FleetResult):
    """Each layer's mean time (µs) and % of the attainable GFLOP/s on that node's own roofline,
    a column per node; below, the mean end-to-end latency they add up to, and the median and
    standard deviation of the profiled and the unprofiled inferences."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    node_ids = list(dict.fromkeys(p.on_node for p in result.points))
    table = Table(title="Time per layer (µs) · % of attainable on the node's own roofline, per node", title_justify="left")
    for name in ("Model", "Engine", "Layer"):
        table.add_column(name)
    for node_id in node_ids:
        table.add_column(node_label(result, node_id), justify="right")
    cells: dict[tuple[str, str], dict[str, dict[str, str]]] = {}  # (model, engine) -> layer -> node -> text
    from ..fleet.compare import column_label
    from ..profiling.profile import ProfileResult
    from .profile import labelled_profile_warnings

    roofs, warnings = [], []
    for record in result.points:
        node_id = record.on_node
        key = (record.point["model"], record.point["engine"])
        rows = cells.setdefault(key, {})
        if record.status == FAILED:
            rows.setdefault("(end to end)", {})[node_id] = "failed"
            continue
        document = record.result
        for layer in document["layers"]:
            share = layer["percent_of_attainable"]
            rows.setdefault(layer["name"], {})[node_id] = f"{layer['time_us']:,.1f} · " + ("—" if share is None else f"{share:,.0f}%")
        rows.setdefault("(engine's own nodes)", {})[node_id] = f"{document['engine_nodes_us']:,.1f}"
        rows.setdefault("(outside layers)", {})[node_id] = f"{document['outside_layers_us']:,.1f}"
        rows.setdefault("(end to end)", {})[node_id] = f"{document['end_to_end_us']:,.1f}"
        # the latencies as bench and profile show them: median ± standard deviation; a file written
        # before profiles kept them has the unprofiled mean only
        for run, label in (("profiled_latency", "(profiled, median ± std)"), ("unprofiled_latency", "(unprofiled, median ± std)")):
            stats = document.get(run)
            if stats:
                rows.setdefault(label, {})[node_id] = f"{stats['median_ns'] / 1e3:,.1f} ± {stats['std_ns'] / 1e3:,.1f}"
        unprofiled = document["unprofiled_end_to_end_us"]
        if not document.get("unprofiled_latency") and unprofiled is not None:
            rows.setdefault("(unprofiled, mean)", {})[node_id] = f"{unprofiled:,.1f}"
        roofs.append(Text(_roof_line(result, node_id, key[1], document["roofline"], document["metadata"].get("roofline_source", "?"))))
        profiled = ProfileResult.from_dict(document)
        # the very lines the page lists (render/compare.py), under the page's column name
        warnings += [Text(f"warning: {line}") for line in labelled_profile_warnings(column_label(result, key[0], node_id), profiled)]
    first = True
    for (model, engine), rows in cells.items():
        if not first:
            table.add_section()
        first = False
        for layer, by_node in rows.items():
            table.add_row(model, engine, layer, *(by_node.get(node_id, "") for node_id in node_ids))
    notes = [Text(_machine_line(result, node_id)) for node_id in node_ids if node_id in result.nodes] + roofs + warnings
    notes += [Text(f"{node_label(result, r.on_node)} {r.point['model']} {r.point['engine']}: failed: {r.error}")
              for r in result.failed]
    if not result.complete:
        notes.append(Text("incomplete: the run was stopped before every node had profiled" if result.interrupted else "incomplete"))
    notes.append(Text("each node profiled alone (one measurement slot per node); % of attainable = achieved GFLOP/s over "
                      "min(peak, intensity × bandwidth) of that node's roofline; — where a time is under the engine's resolution"))
    return Group(table, *notes)
