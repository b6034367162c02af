"""What a sepconv sweep says: per engine and precision, how the time ratio follows the FLOP ratio
(medians over the points measured), and the trends by geometry. Pure functions of the records."""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from .records import SweepRecord


@dataclass(frozen=True)
class ConfigSummary:
    config: str  # engine:precision asked
    points: int
    failed: int
    flop_ratio_median: float | None
    time_ratio_median: float | None
    realized_median: float | None  # (1 − time ratio) / (1 − FLOP ratio): the share of the FLOP saving that became a time saving
    slower: tuple[str, ...]  # keys where the separable layer took longer than the standard one
    best: str | None
    worst: str | None
    depthwise_time_share_median: float | None
    depthwise_flop_share_median: float | None
    predicted_time_ratio_median: float | None = None  # of the points this machine's calibrated model predicted
    predicted_points: int = 0


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def realized(record: SweepRecord) -> float | None:
    saving = 1.0 - record.flop_ratio
    return (1.0 - record.time_ratio.median) / saving if saving > 0 else None


def summarize(records: Sequence[SweepRecord]) -> tuple[ConfigSummary, ...]:
    by_config: dict[str, list[SweepRecord]] = {}
    for record in records:
        by_config.setdefault(record.config, []).append(record)
    summaries = []
    for config, group in by_config.items():
        ok = [r for r in group if r.done]
        ranked = sorted(ok, key=lambda r: r.time_ratio.median / r.flop_ratio)
        parts = [r.parts for r in ok if r.parts is not None]
        summaries.append(ConfigSummary(
            config=config, points=len(group), failed=len(group) - len(ok),
            flop_ratio_median=_median([r.flop_ratio for r in ok]),
            time_ratio_median=_median([r.time_ratio.median for r in ok]),
            realized_median=_median([realized(r) for r in ok]),
            slower=tuple(r.key for r in ok if r.time_ratio.median >= 1.0),
            best=ranked[0].key if ranked else None, worst=ranked[-1].key if ranked else None,
            depthwise_time_share_median=_median([p.depthwise.share for p in parts if p.depthwise is not None]),
            depthwise_flop_share_median=_median([p.depthwise_flop_share for p in parts]),
            predicted_time_ratio_median=_median([r.predicted.time_ratio for r in ok if r.predicted is not None]),
            predicted_points=sum(1 for r in ok if r.predicted is not None),
        ))
    return tuple(summaries)


def trend(records: Sequence[SweepRecord], field: str) -> dict[tuple[str, int], float]:
    """Median time ratio over FLOP ratio per (config, value of `field`): > 1 means time fell less than FLOPs."""
    groups: dict[tuple[str, int], list[float]] = {}
    for record in records:
        if not record.done:
            continue
        groups.setdefault((record.config, record.point[field]), []).append(record.time_ratio.median / record.flop_ratio)
    return {key: statistics.median(values) for key, values in sorted(groups.items())}
