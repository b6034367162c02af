"""A gathered fleet file as a comparison: the same model on each node side by side, a column per
node (and model), each value also as a ratio to the first column. Nothing is merged: every column
is one node's own result, measured on that node's machine against that node's roofline."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ResultFileError
from ..results.documents import result_from_dict
from ..measure.bench import BenchReport, BenchResult
from ..profiling.roofline import Roofline
from ..profiling.profile import ProfileResult
from ..comparing.compare import MEASURED_METRICS, Comparison, LayerMatch, Row, measured_value
from .records import FleetResult

SIDE_BY_SIDE = ("bench", "profile")


def column_label(result: FleetResult, model: str, node_id: str) -> str:
    """HOST NODE_ID, after MODEL @ when the file holds more than one model."""
    node = result.nodes.get(node_id, {})
    where = f"{node.get('hostname') or '?'} {node_id[:8]}"
    models = {record.point["model"] for record in result.points}
    return f"{Path(model).name} @ {where}" if len(models) > 1 else where


def _roof_rows(engine: str, roofs: list[Roofline | None], precisions: list[str | None]) -> list[Row]:
    """The roof at the precision each column ran at, and the memory bandwidth: each node's own."""
    return [Row("roof_gflops_per_s", "Roof (measured peak at that precision)", "GFLOP/s", engine,
                tuple(None if r is None else r.peak(p or "f32").gflops_per_s for r, p in zip(roofs, precisions))),
            Row("bandwidth_gb_per_s", "Memory bandwidth (measured)", "GB/s", engine,
                tuple(None if r is None else r.bandwidth_gb_per_s for r in roofs))]


def _bench_rows(columns: list[dict[str, Any]], engines: list[str]) -> list[Row]:
    def result(column, engine) -> BenchResult | None:
        return column["results"].get(engine)

    def roof(column, engine) -> Roofline | None:
        entry = column["rooflines"].get(engine)
        return result_from_dict(entry["machine"], f"the {engine} roofline of node {column.get('node_id', '?')}") if entry else None

    first_flops = [next((r.flops_per_inference for r in c["results"].values()), None) for c in columns]
    rows = [Row("flops", "FLOPs", "", None, tuple(first_flops))]
    for engine in engines:
        results = [result(c, engine) for c in columns]
        rows += [Row(key, label, unit, engine, tuple(measured_value(r, key) for r in results)) for key, label, unit in MEASURED_METRICS]
        precisions = [None if r is None else r.settings.precision for r in results]
        rows.append(Row("precision", "Precision", "", engine, tuple(precisions)))
        roofs = [roof(c, engine) for c in columns]
        rows += _roof_rows(engine, roofs, precisions)
        achieved = [measured_value(r, "gflops_per_s") for r in results]
        rows.append(Row("percent_of_roof", "Achieved / roof", "%", engine,
                        tuple(None if a is None or r is None else 100 * a / r.peak(p or "f32").gflops_per_s
                              for a, r, p in zip(achieved, roofs, precisions))))
    return rows


def _latency_rows(engine: str, profiles: list[ProfileResult | None]) -> list[Row]:
    """The end-to-end latency, unprofiled and profiled, as bench and profile show it: the median
    and the standard deviation of each node's inferences. A file written before profiles kept them
    has only the means: they get rows of their own, called means."""
    given = [p for p in profiles if p is not None]
    rows = []
    if any(p.unprofiled_latency is not None and p.profiled_latency is not None for p in given):
        for run, prefix, words in (("unprofiled_latency", "", "unprofiled"), ("profiled_latency", "profiled_", "profiled")):
            stats = [None if p is None else getattr(p, run) for p in profiles]
            rows.append(Row(f"{prefix}latency_median_ns", f"Latency median ({words})", "ns", engine,
                            tuple(None if s is None else s.median_ns for s in stats)))
            rows.append(Row(f"{prefix}latency_std_ns", f"Latency std ({words})", "ns", engine,
                            tuple(None if s is None else s.std_ns for s in stats)))
    if any(p.unprofiled_latency is None or p.profiled_latency is None for p in given):
        rows.append(Row("latency_mean_ns", "Latency mean (unprofiled)", "ns", engine,
                        tuple(None if p is None or p.unprofiled_end_to_end_us is None else p.unprofiled_end_to_end_us * 1e3
                              for p in profiles)))
        rows.append(Row("profiled_latency_mean_ns", "Latency mean (profiled)", "ns", engine,
                        tuple(None if p is None else p.end_to_end_us * 1e3 for p in profiles)))
    return rows


def _profile_rows(columns: list[dict[str, Any]], engines: list[str]) -> tuple[list[Row], list[LayerMatch]]:
    rows: list[Row] = []
    layers: list[LayerMatch] = []
    for engine in engines:
        profiles: list[ProfileResult | None] = [c["profiles"].get(engine) for c in columns]
        rows += _latency_rows(engine, profiles)
        precisions = [None if p is None else p.engine.get("precision") for p in profiles]
        rows.append(Row("precision", "Precision", "", engine, tuple(precisions)))
        rows += _roof_rows(engine, [None if p is None else p.roofline for p in profiles], precisions)
        by_name = [{} if p is None else {row.name: row for row in p.layers} for p in profiles]
        names = list(dict.fromkeys(name for rows_ in by_name for name in rows_))
        layers += [LayerMatch(name, engine, tuple(r[name].type if name in r else None for r in by_name),
                              tuple(r[name].flops if name in r else None for r in by_name),
                              tuple(r[name].time_us if name in r else None for r in by_name)) for name in names]
    return rows, layers


def side_by_side(result: FleetResult) -> Comparison:
    """The nodes' results of a fleet bench or fleet profile as one comparison, a column per node
    and model (in the order of the models, then of the nodes); failed points have no column."""
    if result.command not in SIDE_BY_SIDE:
        raise ResultFileError(f"a fleet {result.command} file holds points spread over the nodes, not one result per node",
                              "compare the file of flopbench fleet bench or fleet profile")
    columns: dict[tuple[str, str], dict[str, Any]] = {}
    for record in result.done:
        model, node_id = record.point["model"], record.node_id
        column = columns.setdefault((model, node_id), {"label": column_label(result, model, node_id), "model": model,
                                                       "node_id": node_id, "results": {}, "rooflines": {}, "profiles": {}})
        if result.command == "bench":
            report = BenchReport.from_dict(record.result)
            column["results"].update({r.settings.engine: replace(r, model=column["label"]) for r in report.results})
            column["rooflines"].update(record.result["metadata"].get("rooflines", {}))
        else:
            profiled = ProfileResult.from_dict(record.result)
            column["profiles"][record.point["engine"]] = replace(profiled, model=column["label"])
    if not columns:
        raise ResultFileError("the fleet file holds no finished result", "run the fleet again: a re-run with the same --json finishes it")
    models = list(result.metadata.get("models") or [])
    order = list(result.nodes)
    ordered = sorted(columns.values(), key=lambda c: (models.index(c["model"]) if c["model"] in models else len(models),
                                                      order.index(c["node_id"]) if c["node_id"] in order else len(order)))
    engines = list(dict.fromkeys(engine for c in ordered for engine in (*c["results"], *c["profiles"])))
    if result.command == "bench":
        rows, layers = _bench_rows(ordered, engines), []
    else:
        rows, layers = _profile_rows(ordered, engines)
    metadata = {**result.metadata, "fleet": {"command": result.command, "complete": result.complete, "columns": {
        c["label"]: {"node_id": c["node_id"], **{k: v for k, v in result.nodes.get(c["node_id"], {}).items() if k != "node_id"}}
        for c in ordered}}}
    return Comparison(models=tuple(c["label"] for c in ordered), engines=tuple(engines), rows=tuple(rows),
                      results=tuple(r for engine in engines for c in ordered for e, r in c["results"].items() if e == engine),
                      metadata=metadata, interrupted=not result.complete, layers=tuple(layers),
                      profiles=tuple(p for engine in engines for c in ordered for e, p in c["profiles"].items() if e == engine))
