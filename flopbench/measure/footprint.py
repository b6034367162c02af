"""Measured memory: how much an engine's process grows when it compiles and runs a model.

Each measurement runs in a fresh Python process (`python -m flopbench.measure.footprint`), so
nothing another model or engine left behind is counted. The child imports the engine, reads the
model's inputs and makes their data, then reads its resident set size (RSS) three times: before
compiling, after compiling, and at the peak while it runs the model `iterations` times (Linux's
high-water mark, reset after compiling through /proc/self/clear_refs). The estimate flopbench counts
(weights + peak activations) sits beside it: the engine adds its own code paths, repacked weight
layouts, scratch buffers and allocator slack, and may fuse or reuse buffers the estimate keeps apart.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from dataclasses import dataclass, replace
from typing import Any

from ..errors import EngineError, FlopbenchError, one_line
from ..results.codec import encoded

FOOTPRINT_TIMEOUT_S = 900


@encoded(derived=("compile_growth_bytes", "inference_growth_bytes", "total_growth_bytes"))
@dataclass(frozen=True)
class Footprint:
    """RSS of a fresh process around one engine's compile and inference of one model."""

    engine: str
    engine_version: str
    device: str
    precision: str  # what ran, as the engine reports it
    iterations: int
    before_compile_bytes: int  # engine imported, inputs made, nothing compiled
    after_compile_bytes: int
    compile_peak_bytes: int  # the high-water mark up to the end of compiling
    inference_peak_bytes: int  # the high-water mark while the model ran
    peak_reset: bool  # False: the high-water mark could not be reset after compiling (it then includes compiling)
    # what the same engine grows by, in a fresh process, for a one-op model: its fixed cost (the plugin
    # and its libraries, thread pools, JIT-compiled kernels); 0 when not measured
    engine_fixed_bytes: int = 0

    @property
    def compile_growth_bytes(self) -> int:
        return self.after_compile_bytes - self.before_compile_bytes

    @property
    def inference_growth_bytes(self) -> int:
        """What running adds on top of the compiled model: activations, scratch, request buffers."""
        return max(0, self.inference_peak_bytes - self.after_compile_bytes)

    @property
    def total_growth_bytes(self) -> int:
        return max(self.after_compile_bytes, self.inference_peak_bytes) - self.before_compile_bytes



@encoded(derived=("estimate_bytes", "rest_bytes"))
@dataclass(frozen=True)
class MemoryBreakdown:
    """A measured growth beside what accounts for it, part by part: the estimate with the engine's
    own costs, and the rest (workspace, allocator slack; negative when the engine fused or reused
    more than the count's per-op activations assume)."""

    measured_bytes: int
    engine_fixed_bytes: int  # measured: the same engine on a one-op model
    weight_bytes: int  # the model's weights once computed (the count's materialized_weight_bytes)
    weight_copy_bytes: int  # the engine's own copy of them, repacked for its kernels at the precision it runs
    activation_bytes: int  # the count's peak activations
    run_precision: str  # the float precision the copy is made at ("bf16", "f32")

    @property
    def estimate_bytes(self) -> int:
        return self.engine_fixed_bytes + self.weight_bytes + self.weight_copy_bytes + self.activation_bytes

    @property
    def rest_bytes(self) -> int:
        return self.measured_bytes - self.estimate_bytes


# bits per element of the float element types weights are stored in
FLOAT_BITS = {"f64": 64, "f32": 32, "f16": 16, "bf16": 16}


def explain(cost, footprint: Footprint) -> MemoryBreakdown:
    """What accounts for `footprint`'s growth, from `cost` (the model's `ModelCost`): the engine's
    fixed cost (measured), the weights once computed, a second copy of them at the precision the
    engine runs its float ops in (it repacks weights into its kernels' layout while the model's
    own copy stays: an IR's mapped .bin, ONNX Runtime's initializers), the peak activations.
    Integer weights are copied at their own size."""
    precision = footprint.precision.lower()
    run_bits = 16 if ("bf16" in precision or "f16" in precision) else 32
    run = "bf16" if "bf16" in precision else ("f16" if run_bits == 16 else "f32")
    copy = 0.0
    for element, size in cost.weight_bytes_by_type.items():
        copy += size * run_bits / FLOAT_BITS[element] if element in FLOAT_BITS else size
    computed = cost.materialized_weight_bytes - cost.weight_bytes  # weights the graph makes: f32 once computed
    if computed > 0:
        copy += computed * run_bits / 32
    return MemoryBreakdown(measured_bytes=footprint.total_growth_bytes, engine_fixed_bytes=footprint.engine_fixed_bytes,
                           weight_bytes=cost.materialized_weight_bytes, weight_copy_bytes=int(copy),
                           activation_bytes=cost.peak_activation_bytes, run_precision=run)


def measure_footprint(model: str | os.PathLike, engine: str | None = None, device: str = "CPU", precision: str | None = None,
                      shape: Any = None, batch: int | None = None, iterations: int = 20, fixed_cost: bool = True) -> Footprint:
    """Compile and run `model` on `engine` (None: the default engine) in a fresh process and
    measure its RSS (see the module); with `fixed_cost`, also the engine's fixed cost: the same
    measurement of a one-op model in another fresh process."""
    from .engines import DEFAULT_ENGINE, get_engine

    engine = engine or DEFAULT_ENGINE
    get_engine(engine)  # an unknown name fails here, not in the child
    if iterations < 1:
        raise EngineError(f"{iterations} iterations measure no inference", "give 1 or more")
    request = {"model": os.fspath(model), "engine": engine, "device": device, "precision": precision,
               "shape": shape, "batch": batch, "iterations": iterations}
    measured = _run_child(request, engine)
    if not fixed_cost:
        return measured
    with tempfile.TemporaryDirectory(prefix="flopbench-fixed-") as folder:
        tiny = _one_op_model(Path(folder) / "one_op.onnx")
        fixed = _run_child({**request, "model": str(tiny), "shape": None, "batch": None}, engine)
    return replace(measured, engine_fixed_bytes=fixed.total_growth_bytes)


def _one_op_model(path: Path) -> Path:
    """A model of one ReLU on 1x1x1x1: what an engine costs before any model's weights or activations."""
    import onnx
    from onnx import TensorProto, helper

    info = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 1, 1, 1]) for name in ("x", "y")]
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "one_op", [info[0]], [info[1]])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def _run_child(request: dict[str, Any], engine: str) -> Footprint:
    try:
        done = subprocess.run([sys.executable, "-m", "flopbench.measure.footprint", json.dumps(request)],
                              capture_output=True, text=True, timeout=FOOTPRINT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise EngineError(f"measuring the memory of {engine} took over {FOOTPRINT_TIMEOUT_S} s", "try a smaller model or shape") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        reason = one_line(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit code {done.returncode}", 300)
        raise EngineError(f"the process measuring {engine}'s memory failed: {reason}", "run flopbench bench on the model to see the engine's error")
    answer = json.loads(lines[-1])
    if "error" in answer:
        raise EngineError(answer["error"], answer.get("fix"))
    return Footprint.from_dict(answer)


# --- the child process ----------------------------------------------------------------------


def _status_bytes(field: str) -> int:
    """A `/proc/self/status` memory field (VmRSS, VmHWM) in bytes; getrusage's peak elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak() -> bool:
    """Reset the high-water mark to the current RSS (Linux ≥ 4.0): the peak then covers inference only."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def _measure(request: dict[str, Any]) -> dict[str, Any]:
    import gc

    from .engines import EngineConfig, get_engine
    from .inputs import prepare_inputs
    from ..model.shapes import check_batch, normalize_shape_spec

    engine = get_engine(request["engine"])
    engine.check_device(request["device"])
    engine.check_model(request["model"])
    inputs = engine.read_inputs(request["model"], normalize_shape_spec(request["shape"]), check_batch(request["batch"]))
    arrays = prepare_inputs(inputs, None, seed=0).arrays
    config = EngineConfig(device=request["device"], hint="latency", precision=request["precision"])
    gc.collect()
    before = _status_bytes("VmRSS")
    runner = engine.compile(request["model"], {i.name: i.shape for i in inputs}, config)
    after = _status_bytes("VmRSS")
    compile_peak = _status_bytes("VmHWM")
    reset = _reset_peak()
    step, _ = runner.sync_step(arrays)
    for _ in range(request["iterations"]):
        step()
    peak = _status_bytes("VmHWM")
    settings = runner.settings
    return {"engine": settings.engine, "engine_version": settings.engine_version, "device": settings.device,
            "precision": settings.executed_precision or settings.precision, "iterations": request["iterations"],
            "before_compile_bytes": before, "after_compile_bytes": after, "compile_peak_bytes": compile_peak,
            "inference_peak_bytes": peak, "peak_reset": reset}


def _child(argv: list[str]) -> int:
    from .engines import engine_errors

    request = json.loads(argv[0])
    try:
        with engine_errors(request["engine"]):
            answer = _measure(request)
    except FlopbenchError as exc:
        answer = {"error": exc.problem, "fix": exc.fix}
    print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
