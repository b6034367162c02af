"""What the sepconv sweep records for one point: typed, frozen, written and read by the results codec.

A point measured is DONE with its FLOPs, parameters, latencies, time ratio and the separable layer's
parts as profiled; a point that could not be measured is FAILED with its reason. The JSON of a record
is the `records` items of a `flopbench/study/2` document: a key a record does not have (a failed
point's FLOPs, a done point's reason, the node of a sweep that did not run on a cluster) is not
written. The point itself stays plain data (`study.sweep.check_point`): it is the sweep's input.
"""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..results.codec import json_field
from ..results.status import DONE, POINT_STATUSES


@dataclass(frozen=True)
class Spread:
    """A value measured in each repeat: its median, its range and every repeat's value."""

    median: float
    min: float
    max: float
    repeats: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> "Spread":
        return cls(median=statistics.median(values), min=min(values), max=max(values), repeats=tuple(values))


@dataclass(frozen=True)
class Counts:
    """A number of the standard layer and of its separable twin (FLOPs, parameters)."""

    standard: int
    separable: int


@dataclass(frozen=True)
class Latencies:
    """Each model's median latency per repeat, in µs."""

    standard: Spread
    separable: Spread


@dataclass(frozen=True)
class PartOnRoof:
    """One profiled layer or part: its time and its place on the measured roofline (a `LayerRow`'s numbers)."""

    time_us: float
    flops: int
    bytes: int
    intensity: float | None
    gflops_per_s: float | None  # None when the time is under the engine's resolution
    attainable_gflops_per_s: float
    percent_of_attainable: float | None
    bound: str
    kernel: str

    @classmethod
    def fields_of(cls, row) -> dict[str, Any]:
        return {name: getattr(row, name) for name in cls.__dataclass_fields__}

    @classmethod
    def of(cls, row) -> "PartOnRoof":
        return cls(**cls.fields_of(row))


@dataclass(frozen=True)
class SeparablePart(PartOnRoof):
    """The depthwise or pointwise part of the separable layer, with its share of the layer's profiled time."""

    share: float | None = None  # None when the parts' times sum to nothing

    @classmethod
    def of(cls, row, total_us: float | None = None) -> "SeparablePart":
        return cls(**PartOnRoof.fields_of(row), share=row.time_us / total_us if total_us else None)


@dataclass(frozen=True)
class SweepRoofline:
    """The roofline the parts were placed on, in a few numbers: a results file read elsewhere still
    says which machine's roof its percentages are of."""

    engine: str
    bandwidth_gb_per_s: float
    peaks_gflops_per_s: dict[str, float]
    quick: bool
    measured_at: str

    @classmethod
    def of(cls, roofline) -> "SweepRoofline | None":
        if roofline is None:
            return None
        return cls(engine=roofline.engine, bandwidth_gb_per_s=roofline.bandwidth_gb_per_s,
                   peaks_gflops_per_s={name: peak.gflops_per_s for name, peak in roofline.peaks.items()},
                   quick=roofline.quick, measured_at=roofline.measured_at)


@dataclass(frozen=True)
class ProfiledParts:
    """The separable layer's parts and the standard layer, as profiled."""

    depthwise: SeparablePart | None
    pointwise: SeparablePart | None
    standard: PartOnRoof
    depthwise_flop_share: float | None = None
    roof_peak_gflops_per_s: float | None = None
    roofline: SweepRoofline | None = json_field(omit_none=True, default=None)  # absent in results written before it was recorded

    profile_error = None  # a profiled point has no profile error: readers ask either kind of parts


@dataclass(frozen=True)
class NotProfiled:
    """Why the profiler could not split the separable layer (the point's times still stand)."""

    profile_error: str

    depthwise = pointwise = standard = depthwise_flop_share = roof_peak_gflops_per_s = roofline = None


@dataclass(frozen=True)
class Predicted:
    """What this machine's calibrated model (`flopbench predict`) foretold for the two layers before
    they ran: each one's latency and their time ratio, beside the measured one."""

    standard_us: float
    separable_us: float
    time_ratio: float  # separable / standard, predicted
    calibration_measured_at: str  # the calibration it came from


@dataclass(frozen=True, kw_only=True)
class SweepRecord:
    """One point of the sweep: DONE with its numbers, or FAILED with its reason."""

    key: str
    point: Mapping[str, Any]  # the point as checked (study.sweep.check_point)
    status: str  # DONE or FAILED (results.status)
    reason: str | None = json_field(omit_none=True, default=None)  # why it failed
    flops: Counts | None = json_field(omit_none=True, default=None)
    params: Counts | None = json_field(omit_none=True, default=None)
    flop_ratio: float | None = json_field(omit_none=True, default=None)  # separable / standard
    latency_us: Latencies | None = json_field(omit_none=True, default=None)
    time_ratio: Spread | None = json_field(omit_none=True, default=None)  # separable / standard, per repeat
    parts: ProfiledParts | NotProfiled | None = json_field(omit_none=True, default=None)
    # what the calibrated model predicted; absent when the point's settings are not calibrated where it ran
    predicted: Predicted | None = json_field(omit_none=True, default=None)
    settings: Mapping[str, Any] | None = json_field(json="engine", omit_none=True, default=None)  # what the engine used
    seconds: float  # how long the point took to measure
    node_id: str | None = json_field(omit_none=True, default=None)  # the cluster node it ran on (study --ray)

    def __post_init__(self):
        if self.status not in POINT_STATUSES:
            raise ValueError(f"sweep record {self.key!r} has status {self.status!r}, not one of {', '.join(POINT_STATUSES)}")

    @property
    def done(self) -> bool:
        return self.status == DONE

    @property
    def config(self) -> str:
        """engine:precision, as asked."""
        return f"{self.point['engine']}:{self.point['precision']}"

    @property
    def precision_used(self) -> str | None:
        """The precision the engine ran at, as its settings say (None when it did not run)."""
        return (self.settings or {}).get("precision")
