"""LiteRT (TensorFlow Lite): `.tflite` files on the CPU through its Python interpreter, with the
XNNPACK delegate it applies by default. It measures no latency of its own: the call latency is
timed around `Interpreter.invoke()`.

Precision: LiteRT runs a file at the precision it is stored in. Its `Interpreter` has no setting
for XNNPACK's fp16 inference, so f32 is the one precision it can be told; fp16 weights are
dequantized to f32 when the model is prepared, and a quantized file runs its quantized ops on 8-bit
integer kernels. (LiteRT's newer `CompiledModel` API takes XNNPACK's FORCE_FP16 flag and runs it,
but its C++ side writes log lines to the process's stderr that could not be kept out of a command's
output reliably, so flopbench does not use it yet.)

Per-layer times: the interpreter exposes no op profiler (`benchmark_model --enable_op_profiling`
has one; the Python API does not), so `profile` refuses LiteRT rather than guess.
"""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import numpy as np

from ...errors import EngineError, ProfilingError, engine_message
from ...model.reading import ModelInputInfo
from ...model.shapes import DeclaredInput, ShapeSpec, resolve_static_shapes
from ..requests import ExecutorRequests
from .base import AsyncHooks, EngineConfig, EngineSettings, NodeTime, ProfiledRun

SUFFIX = ".tflite"
INSTALL_HINT = "pip install 'flopbench[litert]' (the ai-edge-litert package)"
INTEGER_TYPES = ("int8", "uint8", "int16")


@contextlib.contextmanager
def _quiet_stderr():
    """LiteRT's C++ side prints "INFO: Created TensorFlow Lite XNNPACK delegate" on stderr for each
    interpreter: the output of a command is not the place for it."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise EngineError("LiteRT is not installed", INSTALL_HINT) from None
    return Interpreter


def _open(path: Path, threads: int | None):
    """An interpreter for `path`, or the one-line reason it cannot be one (truncated file, custom op)."""
    Interpreter = _interpreter_class()
    try:
        with _quiet_stderr():
            return Interpreter(model_path=str(path), num_threads=threads)
    except Exception as exc:
        raise EngineError(f"LiteRT cannot read {path.name}: {engine_message(exc)}",
                          "check the model file: a .tflite whose ops are all LiteRT builtins, not truncated") from None


def _dtype_name(dtype) -> str:
    return np.dtype(dtype).name


def _stored_precision(interpreter) -> str:
    """What the file's tensors say it runs in: quantized activations mean 8-bit integer kernels."""
    details = interpreter.get_tensor_details()
    quantized = any(_dtype_name(d["dtype"]) in INTEGER_TYPES and len(d["quantization_parameters"]["scales"])
                    for d in details)
    if quantized:
        return "int8 (quantized model), float ops in f32"
    if any(_dtype_name(d["dtype"]) == "float16" for d in details):
        return "f32 (fp16 weights dequantized to f32)"
    return "f32"


class LiteRTEngine:
    name = "litert"
    display_name = "LiteRT"
    package = "ai-edge-litert"
    aliases = ()
    file_kinds = (SUFFIX,)
    reads_as_model_reader = False  # it reads the flatbuffer itself
    precision_settings = ("f32",)
    compared_precisions = ("f32",)
    error_modules = ("ai_edge_litert", "tflite_runtime")

    def version(self) -> str:
        try:
            from importlib.metadata import version

            return version(self.package)
        except Exception:  # not installed: compile says so in one line
            return "not installed"

    def devices(self) -> list[str]:
        return ["CPU"]

    def check_device(self, device: str) -> None:
        if device.upper() != "CPU":
            raise EngineError(f"device {device!r} is not available to LiteRT in flopbench", "use -d CPU (XNNPACK)")

    def check_model(self, model_path: str | os.PathLike) -> None:
        path = Path(model_path)
        if path.suffix.lower() != SUFFIX:
            raise EngineError(f"LiteRT cannot run {path.name}: it runs TFLite files (.tflite) only",
                              "give the model as .tflite, or use another engine")

    def precisions(self, device: str) -> tuple[str, ...]:
        return self.precision_settings

    def check_profilable(self, device: str) -> None:
        raise ProfilingError("LiteRT cannot time layers one by one (profile and machine need that): its Python interpreter "
                             "exposes no per-op timer",
                             "profile the same network as .onnx or .xml on another engine, or use LiteRT's "
                             "benchmark_model --enable_op_profiling")

    def roofline_precisions(self, cpu_flags: set[str]) -> tuple[str, ...]:
        return ("f32",)

    def roofline_setting(self, precision: str) -> str | None:
        return None

    def read_inputs(self, model_path: str | os.PathLike, shapes: ShapeSpec, batch: int | None) -> tuple[ModelInputInfo, ...]:
        """The inputs as the flatbuffer declares them (`shape_signature`: -1 for a dynamic dimension)."""
        path = Path(model_path)
        self.check_model(path)
        interpreter = _open(path, None)
        declared, dtypes = [], []
        for detail in interpreter.get_input_details():
            signature = detail.get("shape_signature")
            dims = tuple(int(d) if d >= 0 else None for d in (signature if signature is not None and len(signature) else detail["shape"]))
            shown = "[" + ",".join("?" if d is None else str(d) for d in dims) + "]"
            declared.append(DeclaredInput(names=(detail["name"],), dims=dims, shown=shown))
            dtypes.append(_dtype_name(detail["dtype"]))
        chosen = resolve_static_shapes(declared, shapes, batch)
        return tuple(ModelInputInfo(name=d.names[0], shape=s, dtype=t) for d, s, t in zip(declared, chosen, dtypes))

    def compile(self, model_path: str, input_shapes: dict[str, tuple[int, ...]], config: EngineConfig) -> "LiteRTRunner":
        path = Path(model_path)
        self.check_model(path)
        self.check_device(config.device)
        if config.precision not in (None, "f32"):
            raise EngineError(f"--precision {config.precision} is not a setting LiteRT's Python interpreter offers: it runs the file's own precision",
                              "leave --precision out for litert, or give f32")
        throughput = config.hint == "throughput"
        # several requests run at once: each interpreter must not claim every core for itself
        threads = config.nthreads or (1 if throughput else (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
        requests = config.nireq or (1 if not throughput else (os.cpu_count() or 1))
        return LiteRTRunner(path, dict(input_shapes), config, threads, requests, self.version())


class LiteRTRunner:
    def __init__(self, path: Path, input_shapes: dict[str, tuple[int, ...]], config: EngineConfig, threads: int,
                 requests: int, version: str):
        self.path, self.config, self._input_shapes = path, config, input_shapes
        self._threads = threads
        interpreter = self._prepared()
        self._interpreter = interpreter
        self.settings = EngineSettings(
            engine=LiteRTEngine.name, engine_version=version, device=config.device, device_name="XNNPACK delegate",
            precision="f32", hint=config.hint, streams=None,  # no streams: each request is an interpreter on a thread
            threads=threads, requests=requests, optimal_requests=None,
            extra={"delegate": "XNNPACK (LiteRT's default CPU delegate)"},
            executed_precision=_stored_precision(interpreter),
        )
        self._requests = None

    def _prepared(self):
        """An interpreter with the chosen input shapes, its tensors allocated."""
        interpreter = _open(self.path, self._threads)
        try:
            for detail in interpreter.get_input_details():
                shape = self._input_shapes.get(detail["name"])
                if shape is not None and tuple(detail["shape"]) != tuple(shape):
                    interpreter.resize_tensor_input(detail["index"], list(shape), strict=False)
            with _quiet_stderr():
                interpreter.allocate_tensors()
        except EngineError:
            raise
        except Exception as exc:
            if "custom op" in str(exc):  # LiteRT reads the file and fails only when preparing the op
                raise EngineError(f"LiteRT cannot run {self.path.name}: {engine_message(exc)}",
                                  "the custom op must be registered with LiteRT, which flopbench cannot do; "
                                  "flopbench flops counts the model, and --engine openvino runs it if OpenVINO knows the op") from None
            raise EngineError(f"LiteRT cannot prepare {self.path.name}: {engine_message(exc)}",
                              "check --shape / -b against the model's inputs") from None
        return interpreter

    def _bind(self, interpreter, inputs: dict[str, np.ndarray]) -> None:
        for detail in interpreter.get_input_details():
            array = inputs.get(detail["name"])
            if array is None:
                raise EngineError(f"no data for model input {detail['name']!r}", "give it with -i name:file.npy")
            interpreter.set_tensor(detail["index"], np.ascontiguousarray(array, dtype=detail["dtype"]))

    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        interpreter = self._interpreter
        self._bind(interpreter, inputs)
        interpreter.invoke()
        return {d["name"]: interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()}

    def sync_step(self, inputs: dict[str, np.ndarray]):
        self._bind(self._interpreter, inputs)
        return self._interpreter.invoke, None

    def async_hooks(self, inputs: dict[str, np.ndarray]) -> AsyncHooks:
        """Concurrent invokes on a thread pool; an interpreter is not thread-safe, so each worker
        thread has its own (invoke releases the GIL)."""
        local = threading.local()
        lock = threading.Lock()

        def job() -> None:
            interpreter = getattr(local, "interpreter", None)
            if interpreter is None:
                with lock:  # stderr is redirected while one is made
                    interpreter = local.interpreter = self._prepared()
                self._bind(interpreter, inputs)
            interpreter.invoke()

        self._requests = ExecutorRequests(job, self.settings.requests)
        return AsyncHooks(start=self._requests.start, wait_all=self._requests.wait_all,
                          drain_latencies=self._requests.drain_latencies, latency_kind="call")

    def node_times(self, inputs: dict[str, np.ndarray], iterations: int = 10) -> list[NodeTime]:
        return list(self.profiled_run(inputs, iterations, warmup=0).nodes)

    def profiled_run(self, inputs: dict[str, np.ndarray], iterations: int, warmup: int = 5,
                     model=None, counted=None) -> ProfiledRun:
        LiteRTEngine().check_profilable(self.config.device)
        raise AssertionError("unreachable")  # pragma: no cover

    def compiled_nodes(self, model=None, counted=None) -> tuple[NodeTime, ...]:
        raise ProfilingError("LiteRT does not show the graph it compiled (XNNPACK's partitions are internal), "
                             "so flopbench cannot predict on it", "predict with another --engine")

    def close(self) -> None:
        requests, self._requests = self._requests, None
        if requests is not None:
            requests.close()
        self._interpreter = None
