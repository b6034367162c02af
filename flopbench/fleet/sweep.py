"""`fleet_sweep`: a sweep's points spread over the cluster's nodes, written as each one ends."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..results.metadata import result_metadata
from ..study.sweep import check_unique_keys
from .cluster import connected, require_nodes
from .points import point_key, prepare_bench_points
from .records import FleetLog, FleetResult
from .scheduler import SweepProgress, check_retries, run_points


def fleet_sweep(points: list[dict[str, Any]], results_path: str | os.PathLike, *,
                run_point: Callable[[dict[str, Any]], dict[str, Any]] | None = None, address: str | None = None,
                resource: str | None = None, retries: int = 2, any_machine: bool = False, base: str | os.PathLike = ".",
                metadata: dict[str, Any] | None = None, protect: list[str | os.PathLike] | tuple = (),
                progress: Callable[[SweepProgress], None] | None = None) -> FleetResult:
    """Run every point once on some node of the cluster and record it in `results_path`; a re-run
    with the same file skips the points already done. `run_point` (a picklable callable, importable
    on the nodes; `measures = False` on it lets points share a node) defaults to bench points, whose
    models are read from `base` and sent to the nodes by content."""
    check_retries(retries)
    runner = run_point if run_point is not None else prepare_bench_points(points, base)  # each point checked
    check_unique_keys([point_key(point) for point in points])
    measuring = bool(getattr(runner, "measures", True))
    log = FleetLog.open("sweep", {**result_metadata(), **(metadata or {})}, results_path,
                        protect=protect)
    with connected(address) as where:
        log.metadata["address"] = where
        require_nodes(resource, measuring=measuring)
        return run_points(points, runner, log, resource=resource, retries=retries, any_machine=any_machine, progress=progress)
