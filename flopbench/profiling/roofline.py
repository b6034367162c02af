"""This machine's roofline, measured with the engine that runs the models: peak compute per
precision (a large MatMul or convolution), and memory bandwidth per level of the hierarchy (L1, L2,
L3 as the OS names them, and DRAM) with the fixed cost of one node and of one engine call
(bandwidth.py), cached per machine and engine version.

A peak is the node's own time as the engine's profiler reports it — never a timer around
`infer()`, whose copies and dispatch would make the "peak" slower than real layers. Each size is
measured in several short blocks on a fresh compile and the best block counts: the machine is
shared, and a neighbour's load only ever makes a block slower."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EngineError, OutputError, ResultFileError
from ..measure.engines import DEFAULT_ENGINE, EngineConfig, engine_errors, get_engine
from ..measure.session import open_session
from ..model.spec import ModelSpec
from ..results.codec import result_kind
from ..results.documents import read_json, result_from_dict
from ..results.metadata import cpu_flags, cpu_model, result_metadata
from ..results.writing import write_text_atomic
from .bandwidth import BandwidthPoint, MemoryLevel, measure_sweep
from .caches import data_caches

MATMUL_NAME = "peak_matmul"
CONV_NAME = "peak_conv"
CACHE_MODEL = 2  # the cache file's generation: 1 had one DRAM bandwidth from a single Add; 2 has the levels
# how the sweep is measured, in the cache key: a file measured an earlier way is measured again.
# 2: the two chains' sessions stop their threads spinning after each run (ONNX Runtime's idle
# session had taken the cores of the one being timed)
MEASURED_AS = 2


@dataclass(frozen=True)
class MeasurementPlan:
    """How much to measure: the full plan for real use, a quick one for tests."""

    matmul_sizes: tuple[int, ...]  # square M = K = N
    conv_shapes: tuple[tuple[int, int, int], ...]  # convolutions: (channels in = out, height = width, kernel)
    seconds_per_size: float  # per working-set size of the bandwidth sweep
    blocks: int  # short runs on fresh compiles (at least two, and up to this many while time allows); the best counts
    seconds_per_op: float  # time per candidate op: a shared machine has quiet moments, more blocks find them
    iterations: int  # measured inferences per block
    warmup: int


# small ops too: on a busy machine a short op is preempted less often than a long one, and layers are short
FULL = MeasurementPlan(matmul_sizes=(512, 1024, 2048),
                       conv_shapes=((256, 14, 1), (512, 28, 1), (1024, 14, 1), (64, 28, 3), (128, 56, 3), (256, 28, 3)),
                       seconds_per_size=2.0, blocks=40, seconds_per_op=1.5, iterations=3, warmup=2)
QUICK = MeasurementPlan(matmul_sizes=(512,), conv_shapes=((256, 14, 1), (512, 14, 1), (64, 28, 3), (128, 28, 3)),
                        seconds_per_size=0.4, blocks=20, seconds_per_op=0.4, iterations=3, warmup=1)


@dataclass(frozen=True)
class Peak:
    precision: str
    gflops_per_s: float  # measured
    op: str  # the op that reached it: "MatMul 512×512×512" or "3×3 Conv 128→128 at 56×56"
    kernel: str
    theoretical_gflops_per_s: float | None  # cores × SIMD lanes × FMA units × 2 × clock, when known


@result_kind("machine", version=1)
@dataclass(frozen=True)
class Roofline:
    """A measured roofline: the roof per precision and a slope (bandwidth) per memory level."""

    engine: str
    engine_version: str
    device: str
    cpu: str
    cores: int
    peaks: dict[str, Peak]
    bandwidth_gb_per_s: float  # DRAM's
    bandwidth_bytes: int  # the working set DRAM's bandwidth was measured on
    theoretical: dict[str, Any]  # what the theoretical peaks were computed from
    quick: bool
    measured_at: str  # UTC, ISO 8601
    seconds: float  # how long the measurement took
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False)
    levels: tuple[MemoryLevel, ...] = ()  # L1, L2, L3 ... DRAM, each with the working sets it holds
    sweep: tuple[BandwidthPoint, ...] = ()  # every working set measured
    node_overhead_ns: float | None = None  # the fixed cost of one executed node
    call_overhead_ns: float | None = None  # the fixed cost of one engine call, beyond its nodes

    def memory_levels(self) -> tuple[MemoryLevel, ...]:
        """The levels; a roofline measured before levels existed has DRAM alone."""
        return self.levels or (MemoryLevel("DRAM", 0, None, self.bandwidth_gb_per_s, (self.bandwidth_bytes,)),)

    def level_for(self, working_set_bytes: float) -> MemoryLevel:
        """The level that holds a working set of this size: the smallest one it fits in."""
        levels = self.memory_levels()
        return next((level for level in levels if level.holds(working_set_bytes)), levels[-1])

    def level_bandwidth(self, level: MemoryLevel) -> float:
        """A level's bandwidth; one too fast to resolve takes the next slower level's that was measured.
        A cache is never slower than the memory behind it, so a plateau measured below a level beyond
        it (its sizes' times mostly the node's fixed cost, or disturbed) is taken at that level's bandwidth."""
        levels = self.memory_levels()
        start = next((i for i, other in enumerate(levels) if other.name == level.name), len(levels) - 1)
        found = next((other.bandwidth_gb_per_s for other in levels[start:] if other.bandwidth_gb_per_s), None)
        beyond = [other.bandwidth_gb_per_s for other in levels[start + 1:] if other.bandwidth_gb_per_s]
        return max([found or self.bandwidth_gb_per_s, *beyond])

    def disturbed_levels(self) -> tuple[str, ...]:
        """The levels whose measured plateau is below a level beyond them."""
        levels = self.memory_levels()
        return tuple(level.name for i, level in enumerate(levels)
                     if level.bandwidth_gb_per_s and any(other.bandwidth_gb_per_s and other.bandwidth_gb_per_s > level.bandwidth_gb_per_s
                                                         for other in levels[i + 1:]))

    def peak(self, precision: str) -> Peak:
        """The roof for a precision; one never measured falls back to f32's."""
        return self.peaks.get(precision) or self.peaks["f32"]

    def attainable_gflops_per_s(self, intensity: float, precision: str, level: MemoryLevel | None = None) -> float:
        """min(peak, intensity × bandwidth): the roofline at this arithmetic intensity (FLOPs/byte),
        on the slope of `level` (DRAM's when not given)."""
        bandwidth = self.level_bandwidth(level) if level is not None else self.bandwidth_gb_per_s
        return min(self.peak(precision).gflops_per_s, intensity * bandwidth)

    def ridge(self, precision: str, level: MemoryLevel | None = None) -> float:
        """The intensity (FLOPs/byte) where memory stops limiting and compute starts."""
        bandwidth = self.level_bandwidth(level) if level is not None else self.bandwidth_gb_per_s
        return self.peak(precision).gflops_per_s / bandwidth


# ---- what the CPU could do on paper ----------------------------------------------------------

FMA_UNITS = 2  # FMA pipes per core on current x86 server cores; an assumption, stated in the output


def clock_ghz() -> float | None:
    """The highest clock the OS reports (cpufreq's maximum, else /proc/cpuinfo's current MHz)."""
    try:
        return int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text()) / 1e6
    except (OSError, ValueError):
        pass
    try:
        speeds = [float(line.split(":", 1)[1]) for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("cpu MHz")]
        return max(speeds) / 1e3 if speeds else None
    except (OSError, ValueError):
        return None


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def theoretical_peaks(flags: set[str], cores: int, ghz: float | None) -> tuple[dict[str, float], dict[str, Any]]:
    """cores × f32 SIMD lanes × FMA units × 2 × GHz; bf16 dot products (2 per lane) double it and
    int8 VNNI (4 per lane) quadruples it. AMX tiles are not modelled."""
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4 if "sse2" in flags else None
    basis = {"cores": cores, "clock_ghz": ghz, "f32_simd_lanes": lanes, "fma_units": FMA_UNITS,
             "formula": "cores × SIMD lanes × FMA units × 2 × GHz"}
    if lanes is None or ghz is None:
        return {}, basis
    f32 = cores * lanes * FMA_UNITS * 2 * ghz
    peaks = {"f32": f32}
    if "avx512_bf16" in flags:
        peaks["bf16"] = 2 * f32
    if flags & {"avx512_vnni", "avx_vnni"}:
        peaks["i8"] = 4 * f32
    return peaks, basis


# ---- the measuring models ----------------------------------------------------------------------

def _matmul_model(folder: Path, size: int, precision: str) -> Path:
    """x[size, size] · W[size, size], W constant (as a layer's weights are). For int8, quantize →
    dequantize pairs around both operands: OpenVINO runs the MatMul itself in int8."""
    import onnx
    from onnx import helper

    rng = np.random.default_rng(0)
    weights = rng.standard_normal((size, size)).astype(np.float32)
    initializers, nodes, source = _weights_and_input(weights, precision)
    nodes.append(helper.make_node("MatMul", [source, "w"], [MATMUL_NAME], name=MATMUL_NAME))
    graph = helper.make_graph(nodes, "peak", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [size, size])],
                              [helper.make_tensor_value_info(MATMUL_NAME, onnx.TensorProto.FLOAT, [size, size])], initializers)
    path = folder / f"matmul_{size}_{precision}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def _weights_and_input(weights: np.ndarray, precision: str) -> tuple[list, list, str]:
    """The weights "w" and the tensor the op reads: for int8, quantize → dequantize pairs on the
    input and the weights, which OpenVINO fuses into an int8 kernel; else the f32 weights and "x"."""
    from onnx import helper, numpy_helper

    if precision != "i8":
        return [numpy_helper.from_array(weights, "w")], [], "x"
    initializers = [numpy_helper.from_array(np.clip(np.rint(weights * 32), -127, 127).astype(np.int8), "w_q"),
                    numpy_helper.from_array(np.array(1 / 32, np.float32), "w_scale"),
                    numpy_helper.from_array(np.array(0, np.int8), "w_zero"),
                    numpy_helper.from_array(np.array(1 / 64, np.float32), "x_scale"),
                    numpy_helper.from_array(np.array(0, np.uint8), "x_zero")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["x_q"], name="x_quantize"),
             helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero"], ["x_dq"], name="x_dequantize"),
             helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"], name="w_dequantize")]
    return initializers, nodes, "x_dq"


def _conv_model(folder: Path, channels: int, side: int, kernel: int, precision: str) -> Path:
    """A k×k convolution (same padding), channels → channels: the other kernel family (JIT
    convolutions, not GEMM), in which layers may run faster than any MatMul; quantize → dequantize
    pairs for int8 as for the MatMul."""
    import onnx
    from onnx import helper

    rng = np.random.default_rng(0)
    weights = rng.standard_normal((channels, channels, kernel, kernel)).astype(np.float32)
    initializers, nodes, source = _weights_and_input(weights, precision)
    nodes.append(helper.make_node("Conv", [source, "w"], [CONV_NAME], name=CONV_NAME, pads=[kernel // 2] * 4))
    shape = [1, channels, side, side]
    graph = helper.make_graph(nodes, "peak", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(CONV_NAME, onnx.TensorProto.FLOAT, shape)], initializers)
    path = folder / f"conv_{channels}_{side}_{kernel}_{precision}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def _node_of(nodes, name: str):
    """The profile row of the measuring op: the slowest node that covers it (a bf16 or int8
    MatMul comes with a conversion node in front, which is not the one)."""
    found = [n for n in nodes if name in n.original_names or n.name == name or n.name.startswith(name)]
    found = [n for n in found if n.type not in ("Reorder", "Convert", "ReorderInput", "ReorderOutput")] or found
    return max(found, key=lambda n: n.time_ns) if found else None


def _best_node_time(engine: str, device: str, path: Path, name: str, precision: str | None,
                    plan: MeasurementPlan) -> tuple[int, str]:
    """The fastest block's mean node time (ns) and the kernel that ran it."""
    config = EngineConfig(device=device, hint="latency", precision=precision, profile=True)
    best, kernel = None, ""
    started = time.perf_counter()
    block = 0
    while block < 2 or (time.perf_counter() - started < plan.seconds_per_op and block < plan.blocks):
        block += 1
        with open_session(ModelSpec(path, seed=block), engine, config, count=False) as session:
            with engine_errors(engine):
                run = session.runner.profiled_run(session.inputs.arrays, plan.iterations, warmup=plan.warmup)
        if not run.complete:
            raise KeyboardInterrupt
        node = _node_of(run.nodes, name)
        if node is None or node.time_ns <= 0:
            raise EngineError(f"{engine} reported no time for the measuring op {name!r}", "try the other engine")
        if best is None or node.time_ns < best:
            best, kernel = node.time_ns, node.exec_type
    return best, kernel


def measure_roofline(engine: str = DEFAULT_ENGINE, device: str = "CPU", quick: bool = False,
                    progress: Callable[[str], None] | None = None) -> Roofline:
    """Measure this machine's roofline with `engine`: peak GFLOP/s per precision it offers here,
    bandwidth per memory level, and the fixed costs of a node and of a call."""
    runtime = get_engine(engine)
    runtime.check_device(device)
    runtime.check_profilable(device)  # the peaks and the bandwidth are per-node times
    plan = QUICK if quick else FULL
    flags = cpu_flags()
    cores = usable_cores()
    theoretical, basis = theoretical_peaks(flags, cores, clock_ghz())
    started = time.perf_counter()
    peaks: dict[str, Peak] = {}
    with tempfile.TemporaryDirectory(prefix="flopbench-machine-") as temp:
        folder = Path(temp)
        for precision in runtime.roofline_precisions(flags):
            asked = runtime.roofline_setting(precision)
            candidates = [(f"MatMul {n}×{n}×{n}", 2 * n ** 3, lambda n=n: _matmul_model(folder, n, precision), MATMUL_NAME)
                          for n in plan.matmul_sizes]
            candidates += [(f"{k}×{k} Conv {c}→{c} at {h}×{h}", 2 * c * c * h * h * k * k,
                            lambda c=c, h=h, k=k: _conv_model(folder, c, h, k, precision), CONV_NAME)
                           for c, h, k in plan.conv_shapes]
            best: Peak | None = None
            for label, flops, build, name in candidates:
                if progress:
                    progress(f"peak {precision}: {label}")
                node_ns, kernel = _best_node_time(runtime.name, device, build(), name, asked, plan)
                rate = flops / node_ns
                if best is None or rate > best.gflops_per_s:
                    best = Peak(precision, rate, label, kernel, theoretical.get(precision))
            peaks[precision] = best
        sweep = measure_sweep(runtime.name, device, data_caches(), quick, folder, plan.seconds_per_size, progress)
    dram = sweep.levels[-1]
    if not dram.bandwidth_gb_per_s:
        raise EngineError(f"{runtime.name} moved a working set beyond the caches no slower than an empty node: "
                          "the machine was too busy to measure DRAM bandwidth", "run flopbench machine --remeasure when it is quieter")
    return Roofline(engine=runtime.name, engine_version=runtime.version(), device=device, cpu=cpu_model(), cores=cores,
                   peaks=peaks, bandwidth_gb_per_s=dram.bandwidth_gb_per_s, bandwidth_bytes=max(dram.measured_on),
                   theoretical=basis, quick=quick,
                   measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), seconds=time.perf_counter() - started,
                   metadata=result_metadata(), levels=sweep.levels, sweep=sweep.points,
                   node_overhead_ns=sweep.node_overhead_ns, call_overhead_ns=sweep.call_overhead_ns)


# ---- the cache -------------------------------------------------------------------------------

def cache_dir() -> Path:
    """$FLOPBENCH_CACHE_DIR, else $XDG_CACHE_HOME/flopbench, else ~/.cache/flopbench."""
    if os.environ.get("FLOPBENCH_CACHE_DIR"):
        return Path(os.environ["FLOPBENCH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "flopbench"


def cache_path(engine: str, device: str = "CPU", quick: bool = False, folder: Path | None = None) -> Path:
    """One file per machine (CPU, its flags, the cores this process may use), engine version,
    device and plan. The name carries the cache model's generation: a file of an earlier one
    (`machine-…json`, one DRAM bandwidth) is never read as a roofline with levels, so it is measured again."""
    runtime = get_engine(engine)
    key = json.dumps([cpu_model(), sorted(cpu_flags()), usable_cores(), device, runtime.name, runtime.version(), MEASURED_AS])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return (folder or cache_dir()) / f"machine{CACHE_MODEL}-{runtime.name}-{digest}{'-quick' if quick else ''}.json"


def cached_roofline(engine: str = DEFAULT_ENGINE, device: str = "CPU", quick: bool | None = None) -> Roofline | None:
    """The cached roofline for this machine and engine version; `quick=None` takes the full one,
    else the quick one."""
    for kind in ((False, True) if quick is None else (quick,)):
        path = cache_path(engine, device, kind)
        if not path.exists():
            continue
        found = read_roofline(path, f"flopbench machine --engine {engine}{f' -d {device}' if device != 'CPU' else ''}"
                                    f"{' --quick' if kind else ''} --remeasure")
        if found.levels:  # else a file of an earlier generation: measured again
            return found
    return None


def read_roofline(path: Path, remeasure: str = "flopbench machine --remeasure") -> Roofline:
    """A roofline written to a file (the cache, or `machine -o`), checked as every result is when
    loaded: a damaged one (a bandwidth or a peak of 0, a negative time) is a ResultFileError naming
    the file and the field, never a division by zero after a model was measured."""
    try:
        found = result_from_dict(read_json(path, "roofline"), str(path))
    except ResultFileError as exc:
        raise ResultFileError(exc.problem, f"measure it again: {remeasure} (or delete the file)") from None
    if not isinstance(found, Roofline):
        raise ResultFileError(f"{path} holds a {type(found).__name__}, not a roofline", f"measure it again: {remeasure} (or delete the file)")
    return found


def roofline(engine: str = DEFAULT_ENGINE, device: str = "CPU", remeasure: bool = False, quick: bool = False,
            progress: Callable[[str], None] | None = None) -> Roofline:
    """This machine's roofline for `engine`: from the cache, or measured (and cached) when absent
    or when `remeasure` is asked."""
    if not remeasure:
        found = cached_roofline(engine, device, quick)
        if found is not None:
            return found
    measured = measure_roofline(engine, device, quick=quick, progress=progress)
    path = cache_path(engine, device, quick)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(measured.to_dict(), indent=2) + "\n")
    except (OSError, OutputError):
        pass  # an unwritable cache only costs a re-measurement next time
    return measured
