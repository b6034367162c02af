"""The separable-convolution study's sweep on the cluster: the study's own points and `run_point`,
spread over the nodes by the fleet; each node profiles against its own measured roofline."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..errors import FlopbenchError
from ..results.codec import encode
from ..results.status import DONE, FAILED
from ..study.records import SweepRecord
from ..study.sweep import read_record, run_point
from .records import FleetResult
from .scheduler import SweepProgress
from .sweep import fleet_sweep


@dataclass(frozen=True)
class StudyPoints:
    """A study point on a node: the study's record when it is done; its reason as the point's
    failure otherwise, so that a re-run tries it again, as the study's own runner does."""

    measures: bool = True

    def __call__(self, point: dict[str, Any]) -> dict[str, Any]:
        record = run_point(point)
        if record.status != DONE:
            raise FlopbenchError(record.reason or "the point failed")
        return encode(record)  # the fleet keeps each point's result as JSON


def study_records(result: FleetResult, points: list[dict[str, Any]]) -> list[SweepRecord]:
    """The study's records (in the points' order) from the fleet's: each with the node it ran on;
    a point the fleet could not finish is a failed record with the fleet's reason."""
    by_key = {r.key: r for r in result.points}
    records = []
    for point in points:
        fleet_record = by_key.get(point["key"])
        if fleet_record is None:
            continue
        if fleet_record.status == DONE:
            records.append(replace(read_record(fleet_record.result), node_id=fleet_record.node_id))
        else:  # how long the fleet tried it: every study record says (nothing when it never reached a node)
            records.append(SweepRecord(key=point["key"], point=point, status=FAILED, reason=fleet_record.error,
                                       seconds=max(0.0, fleet_record.seconds or 0.0), node_id=fleet_record.node_id))
    return records


def study_on_fleet(points: list[dict[str, Any]], results_path: str | os.PathLike, *, address: str | None = None,
                   resource: str | None = None, retries: int = 2, any_machine: bool = False,
                   progress: Callable[[SweepProgress], None] | None = None) -> FleetResult:
    """Run the study's points on the cluster, one record per point in `results_path` as each ends."""
    return fleet_sweep(points, results_path, run_point=StudyPoints(), address=address, resource=resource, retries=retries,
                       any_machine=any_machine, metadata={"study": "sepconv"}, progress=progress)
