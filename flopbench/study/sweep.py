"""The separable-convolution sweep: when do fewer FLOPs mean less time?

A sweep's points are plain data: a list of dicts, each with a stable `key`, that `run_point` turns
into a `SweepRecord` (`study.records`). Each point is one layer geometry (input and output channels, kernel,
spatial size, stride) on one engine at one precision: a standard k×k convolution, its separable
twin (`converting.convert`), their end-to-end times measured alternately over several repeats (the time
ratio and its spread), and the separable layer profiled (`profiling.profile`) for the depthwise and
pointwise shares of its time and each part's place on the measured roofline.

`run_sweep` runs the points one after the other and rewrites the results file atomically after each
one, so an interrupted sweep loses nothing and a re-run skips the points already done; another
runner (the fleet) may spread the same points over machines with `run_point`. A point that fails
(an engine that cannot compile it, a precision the machine lacks) is recorded as failed, with its
reason, and the sweep goes on.
"""
from __future__ import annotations

import itertools
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..counting import count
from ..errors import FlopbenchError, OptionError, ResultFileError, engine_message, one_line
from ..measure.bench import measure
from ..measure.engines import ENGINES as ENGINE_REGISTRY, EngineConfig
from ..measure.policy import RunPolicy
from ..measure.session import open_session
from ..model.spec import ModelSpec, check_seed
from ..results.codec import decode, json_field, result_kind, schema_id, schema_of
from ..results.documents import MAX_POINTS_FILE_BYTES, load_result, read_json
from ..results.metadata import result_metadata
from ..results.status import DONE, FAILED, point_status
from ..results.writing import write_text_atomic
from ..converting.convert import convert
from .records import (Counts, Latencies, NotProfiled, PartOnRoof, Predicted, ProfiledParts, SeparablePart, Spread, SweepRecord,
                      SweepRoofline)

POINTS_SCHEMA = "flopbench/study-points/1"
MODEL_SUFFIX = ".onnx"  # the sweep's layers are written as ONNX files
# every engine that runs the sweep's files, at each precision it compares by default
ENGINES = tuple(name for name, engine in ENGINE_REGISTRY.items() if not engine.file_kinds or MODEL_SUFFIX in engine.file_kinds)
CONFIGS = tuple(f"{name}:{precision}" for name in ENGINES for precision in ENGINE_REGISTRY[name].compared_precisions)
POINT_FIELDS = ("in_channels", "out_channels", "kernel", "size", "stride", "engine", "precision")
MAX_POINT_MACS = 50_000_000_000  # one standard layer of 50 GMACs takes seconds per inference here: a typo, not a study


@dataclass(frozen=True)
class SweepOptions:
    """The grid a sweep is generated from (every combination), and how each point is measured."""

    channels: tuple[int, ...] = (16, 64, 256)
    out_channels: tuple[int, ...] | None = None  # None: as many out as in
    kernels: tuple[int, ...] = (3, 5)
    sizes: tuple[int, ...] = (56, 14)
    strides: tuple[int, ...] = (1, 2)
    configs: tuple[str, ...] = CONFIGS
    seconds: float = 0.2  # per measurement of one model in one repeat
    repeats: int = 3
    profile_iterations: int = 10
    seed: int = 0


# ≤ 16 points, about two minutes here: a first look, and what the tests run
QUICK = SweepOptions(channels=(32, 256), kernels=(3,), sizes=(28,), strides=(1, 2), seconds=0.15, repeats=3)


def point_key(point: dict[str, Any]) -> str:
    """Stable across runs and machines: the geometry, the engine and the precision."""
    return (f"c{point['in_channels']}-o{point['out_channels']}-k{point['kernel']}-s{point['size']}-st{point['stride']}"
            f"-{point['engine']}-{point['precision']}")


def parse_config(config: str) -> tuple[str, str]:
    engine, _, precision = config.partition(":")
    engine, precision = engine.strip().lower(), (precision.strip().lower() or "f32")
    # a points file's engine can be anything, a megabyte long: the message shows its start
    said, given = one_line(repr(engine), 60), one_line(repr(config), 80)
    if engine in ENGINE_REGISTRY and engine not in ENGINES:
        raise OptionError(f"engine {said} in --configs {given} does not run the sweep's {MODEL_SUFFIX} files",
                          f"use engine:precision with engine one of {', '.join(ENGINES)}")
    if engine not in ENGINES:
        raise OptionError(f"unknown engine {said} in --configs {given}", f"use engine:precision with engine one of {', '.join(ENGINES)}")
    if precision not in ENGINE_REGISTRY[engine].precision_settings:
        allowed = ", ".join(ENGINE_REGISTRY[engine].precision_settings)
        raise OptionError(f"unknown precision {one_line(repr(precision), 60)} for {engine} in --configs {given}", f"choose {allowed}")
    return engine, precision


def _positive(name: str, values: Iterable[int]) -> tuple[int, ...]:
    values = tuple(values)
    if not values or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in values):
        raise OptionError(f"{name} {one_line(','.join(map(str, values)), 80) or '(none)'} must be whole numbers of 1 or more", f"e.g. {name} 16,64")
    return tuple(int(v) for v in values)


def _check_measuring(seconds: float, repeats: int, iterations: int) -> None:
    if not (isinstance(seconds, (int, float)) and 0 < seconds <= 60):
        raise OptionError(f"-t {seconds} is out of range", "give a time above 0 and at most 60 seconds per measurement")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 100:
        raise OptionError(f"--repeats {repeats} is out of range", "give 1 to 100 repeats")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or not 1 <= iterations <= 10_000:
        raise OptionError(f"--profile-iterations {iterations} is out of range", "give 1 to 10000")


def check_point(point: Any) -> dict[str, Any]:
    """A point read from a file or made by hand, checked; its key filled in when missing."""
    if not isinstance(point, dict):
        raise OptionError(f"a sweep point must be an object, got {type(point).__name__}", "see flopbench study sepconv --help")
    missing = [f for f in POINT_FIELDS if f not in point]
    if missing:
        raise OptionError(f"sweep point {one_line(repr(point.get('key', point)), 120)} lacks {', '.join(missing)}",
                          f"give each point {', '.join(POINT_FIELDS)}")
    checked = dict(point)
    for name in ("in_channels", "out_channels", "kernel", "size", "stride"):
        _positive(name.replace("_", "-"), [point[name]])
    engine, precision = parse_config(f"{point['engine']}:{point['precision']}")
    checked.update(engine=engine, precision=precision)
    checked.setdefault("seconds", SweepOptions.seconds)
    checked.setdefault("repeats", SweepOptions.repeats)
    checked.setdefault("profile_iterations", SweepOptions.profile_iterations)
    checked["seed"] = check_seed(checked.get("seed", 0), "seed")
    checked.setdefault("device", "CPU")
    _check_measuring(checked["seconds"], checked["repeats"], checked["profile_iterations"])
    if point["kernel"] > point["size"]:
        raise OptionError(f"sweep point {point_key(checked)}: kernel {point['kernel']} is larger than the input ({point['size']})",
                          "give a kernel no larger than the spatial size")
    macs = point["in_channels"] * point["out_channels"] * point["kernel"] ** 2 * (point["size"] // point["stride"]) ** 2
    if macs > MAX_POINT_MACS:
        raise OptionError(f"sweep point {point_key(checked)} is a {macs / 1e9:.0f} GMAC layer", "give fewer channels or a smaller size")
    checked["key"] = str(point.get("key") or point_key(checked))
    return checked


def generate_points(options: SweepOptions = SweepOptions()) -> list[dict[str, Any]]:
    """Every combination of the options' geometries and engine configurations, as points."""
    configs = [parse_config(c) for c in options.configs]
    if not configs:
        raise OptionError("--configs names no engine", f"e.g. --configs {','.join(name + ':f32' for name in ENGINES)}")
    channels = _positive("--channels", options.channels)
    outs = _positive("--out-channels", options.out_channels) if options.out_channels else None
    grid = itertools.product(channels, outs or (None,), _positive("--kernel", options.kernels), _positive("--size", options.sizes),
                             _positive("--stride", options.strides), configs)
    points = []
    for cin, cout, kernel, size, stride, (engine, precision) in grid:
        point = {"in_channels": cin, "out_channels": cout or cin, "kernel": kernel, "size": size, "stride": stride,
                 "engine": engine, "precision": precision, "seconds": options.seconds, "repeats": options.repeats,
                 "profile_iterations": options.profile_iterations, "seed": options.seed}
        points.append(check_point(point))
    return points


def check_unique_keys(keys: Sequence[str]) -> None:
    """The one rule of every sweep (the study's, the fleet's): a key names one point. A repeated key
    is refused, since a results file keeps one record per key and would call the sweep complete
    with a point never measured."""
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise OptionError(f"sweep points repeat the key {one_line(repr(key), 120)}", "give every point its own key (or drop the repeated point)")
        seen.add(key)


def check_points(points: Sequence[Any]) -> list[dict[str, Any]]:
    checked = [check_point(p) for p in points]
    check_unique_keys([p["key"] for p in checked])
    if not checked:
        raise OptionError("the sweep has no points", "give at least one")
    return checked


def load_points(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Points from a JSON file: a list of points, or {"schema": "flopbench/study-points/1", "points": [...]}."""
    file = Path(path)
    if not file.exists() and not file.is_symlink():
        raise OptionError(f"points file {file} does not exist", "check the path, or leave --points out to generate the sweep")
    data = read_json(file, "points file", OptionError, limit=MAX_POINTS_FILE_BYTES, fix="give a JSON list of points")
    if isinstance(data, dict):
        data = data.get("points")
    if not isinstance(data, list):
        raise OptionError(f"points file {file} holds no list of points", 'give a JSON list, or {"points": [...]}')
    return check_points(data)


def points_document(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": POINTS_SCHEMA, "points": list(points)}


# --- one point ----------------------------------------------------------------------------------


def standard_layer(path: Path, point: dict[str, Any]) -> Path:
    """One standard k×k convolution (no bias, padded by k//2) of the point's geometry, as ONNX, seeded weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    cin, cout, k, size, stride = (point[f] for f in ("in_channels", "out_channels", "kernel", "size", "stride"))
    rng = np.random.default_rng(point.get("seed", 0))
    weight = rng.standard_normal((cout, cin, k, k), dtype=np.float32) * np.float32(np.sqrt(2.0 / (cin * k * k)))
    out = (size + 2 * (k // 2) - k) // stride + 1
    node = helper.make_node("Conv", ["input", "conv.weight"], ["output"], name="conv", kernel_shape=[k, k],
                            strides=[stride, stride], pads=[k // 2] * 4)
    graph = helper.make_graph([node], "standard", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, cin, size, size])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, cout, out, out])],
                              [numpy_helper.from_array(weight, "conv.weight")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def _median_us(latencies: dict[str, np.ndarray]) -> float:
    values = latencies.get("engine")
    if values is None or not len(values):
        values = latencies["call"]
    return float(np.median(values)) / 1e3


def _profiled_parts(sep: Path, std: Path, point: dict[str, Any], roofline) -> ProfiledParts | NotProfiled:
    """Each part's time and roofline place, from the profiler; the reason when it cannot say."""
    from ..profiling.profile import profile

    try:
        profiled = {}
        for name, path in (("separable", sep), ("standard", std)):
            profiled[name] = profile(path, point["engine"], _engine_config(point), iterations=point["profile_iterations"],
                                     warmup=2, roofline=roofline)
            if not profiled[name].complete:  # the profiler keeps Ctrl-C to itself: pass it on to the sweep
                raise KeyboardInterrupt
    except FlopbenchError as exc:
        return NotProfiled(profile_error=str(exc))
    layer = next(row for row in profiled["separable"].layers if row.type == "SeparableConv2D")
    rows = {row.role: row for row in layer.parts}
    total = sum(row.time_us for row in rows.values()) or None
    parts = {role: SeparablePart.of(row, total) for role, row in rows.items()}
    standard = next(row for row in profiled["standard"].layers if row.type == "Conv2D")
    flops = sum(part.flops for part in parts.values())
    return ProfiledParts(depthwise=parts.get("depthwise"), pointwise=parts.get("pointwise"), standard=PartOnRoof.of(standard),
                         depthwise_flop_share=parts["depthwise"].flops / flops if flops and "depthwise" in parts else None,
                         roof_peak_gflops_per_s=roofline.peak(point["precision"]).gflops_per_s if roofline else None,
                         roofline=SweepRoofline.of(roofline))


def _engine_config(point: dict[str, Any]) -> EngineConfig:
    """The engine settings of a point, for its timing and its profile alike."""
    return EngineConfig(device=point.get("device", "CPU"), precision=point["precision"])


def calibration_for(point: dict[str, Any]):
    """This machine's calibration for the point's engine, device and precision; the CalibrationError
    saying how to make it when there is none."""
    from ..profiling.calibration import cached_calibration

    return cached_calibration(point["engine"], point.get("device", "CPU"), point["precision"])


def _predicted(paths: dict[str, Path], point: dict[str, Any]) -> Predicted | None:
    """Each layer's latency as this machine's calibrated model predicts it (nothing run); None when
    the point's settings are not calibrated here (the command says how to calibrate)."""
    from ..errors import CalibrationError
    from ..profiling.predict import predict

    try:
        calibration = calibration_for(point)
    except CalibrationError:
        return None
    times = {name: predict(ModelSpec(path), point["engine"], _engine_config(point), calibration=calibration).predicted_latency_us
             for name, path in paths.items()}
    return Predicted(standard_us=times["standard"], separable_us=times["separable"],
                     time_ratio=times["separable"] / times["standard"], calibration_measured_at=calibration.measured_at)


def _measure_pair(paths: dict[str, Path], point: dict[str, Any]) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Median latency of each model in each repeat, the models taking turns so that drift of the
    machine lands on both alike; and the settings the engine used."""
    config = replace(_engine_config(point), alternating=True)  # the two models take turns
    policy = RunPolicy(warmup_iterations=2, min_duration_s=float(point["seconds"]), min_iterations=3)
    sessions = {}
    try:
        for name, path in paths.items():
            sessions[name] = open_session(ModelSpec(path, seed=point.get("seed", 0)), point["engine"], config)
        medians: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(point["repeats"]):
            for name, session in sessions.items():
                record, latencies = measure(session.runner, session.inputs.arrays, policy, "latency")
                if record.stop_reason == "interrupted":
                    raise KeyboardInterrupt
                medians[name].append(_median_us(latencies))
        settings = sessions["separable"].runner.settings.to_dict()
    finally:
        for session in sessions.values():
            session.close()
    return medians, settings


def run_point(point: dict[str, Any], roofline=None) -> SweepRecord:
    """Measure one point; the record says DONE with its numbers, or FAILED with the reason.
    Ctrl-C (KeyboardInterrupt) is not caught: the sweep stops and keeps what is done."""
    point = check_point(point)
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="flopbench-sweep-") as folder:
            std = standard_layer(Path(folder) / f"standard{MODEL_SUFFIX}", point)
            sep = Path(folder) / f"separable{MODEL_SUFFIX}"
            convert(std, "separable", sep, seed=point.get("seed", 0))
            costs = {"standard": count(std), "separable": count(sep)}
            predicted = _predicted({"standard": std, "separable": sep}, point)
            medians, settings = _measure_pair({"standard": std, "separable": sep}, point)
            if roofline is None:
                roofline = default_roofline(point["engine"], point.get("device", "CPU"))
            parts = _profiled_parts(sep, std, point, roofline)
    except FlopbenchError as exc:
        return SweepRecord(key=point["key"], point=point, status=FAILED, reason=str(exc), seconds=time.perf_counter() - started)
    except (RuntimeError, ValueError, OSError, MemoryError) as exc:  # what an engine raises when it cannot compile or run
        return SweepRecord(key=point["key"], point=point, status=FAILED, reason=engine_message(exc),
                           seconds=time.perf_counter() - started)
    ratios = [s / t for s, t in zip(medians["separable"], medians["standard"])]
    return SweepRecord(
        key=point["key"], point=point, status=DONE,
        flops=Counts(standard=costs["standard"].total_flops, separable=costs["separable"].total_flops),
        params=Counts(standard=costs["standard"].params, separable=costs["separable"].params),
        flop_ratio=costs["separable"].total_flops / costs["standard"].total_flops,
        latency_us=Latencies(standard=Spread.of(medians["standard"]), separable=Spread.of(medians["separable"])),
        time_ratio=Spread.of(ratios),
        parts=parts,
        predicted=predicted,
        settings=settings,
        seconds=time.perf_counter() - started,
    )


def default_roofline(engine: str, device: str = "CPU"):
    """The cached roofline of this machine for `engine`, else a quick measurement (cached too)."""
    from ..profiling.roofline import cached_roofline, roofline

    return cached_roofline(engine, device) or roofline(engine, device, quick=True)


# --- a whole sweep --------------------------------------------------------------------------------


def in_todays_words(record: dict[str, Any]) -> dict[str, Any]:
    """A record with its status in today's vocabulary (a sweep of flopbench/study/1 said "ok" for done)."""
    return {**record, "status": point_status(record["status"])} if isinstance(record, dict) and "status" in record else record


def _from_version_1(document: dict[str, Any]) -> dict[str, Any]:
    """flopbench/study/1 → 2: the only change is the status word of a point measured ("ok" → "done")."""
    return {**document, "records": [in_todays_words(record) for record in document["records"]]}


@result_kind("study", version=2, derived=("complete",), upgrades={1: _from_version_1})
@dataclass(frozen=True)
class SweepResult:
    """A sweep's records. The document keeps the records and how many points were planned, not the
    points still to run: read back, `points` are the records' own (`load_sweep` finds the rest)."""

    records: tuple[SweepRecord, ...]  # in the points' order; points not run yet have none
    metadata: Mapping[str, Any]
    interrupted: bool = False
    planned: int | None = json_field(json="points", default=None)  # how many points were planned (at least len(points))
    points: tuple[dict[str, Any], ...] = json_field(omit=True, default=())
    skipped: tuple[str, ...] = json_field(omit=True, default=())  # keys already done before this run
    study: str = "sepconv"

    def __post_init__(self):
        if not self.points and self.records:
            object.__setattr__(self, "points", tuple(record.point for record in self.records))
        object.__setattr__(self, "planned", max(len(self.points), self.planned or 0))

    @property
    def planned_count(self) -> int:
        return self.planned

    @property
    def complete(self) -> bool:
        return not self.interrupted and len(self.records) == self.planned_count


SCHEMA = schema_of(SweepResult)
OLDER_SCHEMA = schema_id("study", 1)  # read: its records are put in today's words


def load_sweep(path: str | os.PathLike) -> SweepResult:
    """A sweep measured earlier, from its folder or its results.json: the records, and every point
    planned when the points.json written beside them is there (so a sweep cut short says how many
    points are left)."""
    file = Path(path)
    file = file / "results.json" if file.is_dir() else file
    result = load_result(file)
    if not isinstance(result, SweepResult):
        raise ResultFileError(f"{file.name} holds a {type(result).__name__}, not a sweep",
                              "give the results.json of flopbench study sepconv (or its folder)")
    planned = file.parent / "points.json"
    if planned.is_file():
        try:
            points = load_points(planned)
        except OptionError:  # the points file is a convenience here: the records stand without it
            return result
        keys = {point["key"] for point in points}
        if all(record.key in keys for record in result.records):
            return replace(result, points=tuple(points))
    return result


def read_record(data: Mapping[str, Any]) -> SweepRecord:
    """A record as a results file (of either version) or a fleet's point holds it."""
    return decode(SweepRecord, in_todays_words(data))


def read_results(path: str | os.PathLike) -> dict[str, SweepRecord]:
    """Records of an earlier run of the sweep, by key; none when the file does not exist."""
    file = Path(path)
    if not file.exists():
        return {}
    data = read_json(file, "earlier results file", fix="move it away to start the sweep afresh")
    if not isinstance(data, dict) or data.get("schema") not in (SCHEMA, OLDER_SCHEMA) or not isinstance(data.get("records"), list):
        raise ResultFileError(f"{file} is not a {SCHEMA} results file", "move it away, or give -o another folder")
    try:
        return {r["key"]: read_record(r) for r in data["records"] if isinstance(r, dict) and "key" in r}
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultFileError(f"{file} holds a damaged record ({type(exc).__name__}: {exc})",
                              "move it away, or give -o another folder") from None


def run_sweep(points: Sequence[dict[str, Any]], folder: str | os.PathLike,
              progress: Callable[[int, int, dict[str, Any], SweepRecord | None], None] | None = None,
              runner: Callable[[dict[str, Any]], SweepRecord] = run_point) -> SweepResult:
    """Run every point not yet done in `folder/results.json`, rewriting it atomically after each
    point. `progress(index, total, point, record)` is called before (record None) and after each
    point. Points that failed before are run again; Ctrl-C stops and returns what is done."""
    points = check_points(points)
    out = Path(folder)
    results_path = out / "results.json"
    earlier = read_results(results_path)
    done = {key: r for key, r in earlier.items() if r.status == DONE}
    records: dict[str, SweepRecord] = dict(earlier)
    metadata = result_metadata()
    interrupted = False

    def ordered() -> tuple[SweepRecord, ...]:
        return tuple(records[p["key"]] for p in points if p["key"] in records)

    def save() -> None:
        document = SweepResult(points=tuple(points), records=ordered(), interrupted=interrupted, metadata=metadata).to_dict()
        write_text_atomic(results_path, json.dumps(document, indent=1) + "\n")

    write_text_atomic(out / "points.json", json.dumps(points_document(points), indent=1) + "\n")
    try:
        for index, point in enumerate(points):
            if point["key"] in done:
                continue
            if progress:
                progress(index, len(points), point, None)
            record = runner(point)
            records[point["key"]] = record
            save()
            if progress:
                progress(index, len(points), point, record)
    except KeyboardInterrupt:
        interrupted = True
    save()
    return SweepResult(points=tuple(points), records=ordered(), skipped=tuple(done), interrupted=interrupted, metadata=metadata)
