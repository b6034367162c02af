"""LiteRT (TensorFlow Lite): `.tflite` files on the CPU, with the XNNPACK delegate. It measures no
latency of its own: the call latency is timed around each inference.

Precision: f32 runs the file at the precision it is stored in, on LiteRT's Python `Interpreter`
(fp16 weights are dequantized to f32 when the model is prepared; a quantized file runs its
quantized ops on 8-bit integer kernels). f16 runs it through LiteRT's `CompiledModel` with
XNNPACK's FORCE_FP16 flag (float ops in half precision), where XNNPACK can on this CPU; where it
cannot, the model fails to compile and f16 is refused with LiteRT's reason. LiteRT's C++ side logs
to the process's stderr (every environment, accelerator and delegate it makes): that goes to a
file while LiteRT works, and only its ERROR lines come back, in the message of a failure.

Per-layer times: the interpreter exposes no op profiler (`benchmark_model --enable_op_profiling`
has one; the Python API does not), so `profile` refuses LiteRT rather than guess.
"""
from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import tempfile
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


class NativeLog:
    """What LiteRT's C++ side wrote on stderr while it was redirected: its ERROR lines, for a message."""

    def __init__(self):
        self.text = ""

    def errors(self) -> str:
        """Its ERROR lines (and what continues them), without the INFO and WARNING ones."""
        kept, keeping = [], False
        for line in self.text.splitlines():
            if line.startswith("ERROR"):
                keeping = True
                kept.append(line.removeprefix("ERROR:").strip())
            elif line.startswith(("└", " ")) and keeping:
                kept.append(line.lstrip("└ ").strip())
            else:
                keeping = False
        return " ".join(k for k in kept if k)[-400:]


@contextlib.contextmanager
def _quiet_stderr():
    """LiteRT's C++ side logs on file descriptor 2 ("INFO: Created TensorFlow Lite XNNPACK delegate",
    its environment and accelerators): the output of a command is not the place for it. What it
    writes goes to a temporary file, whose ERROR lines a failure can quote."""
    log = NativeLog()
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError, OSError):
        pass
    try:
        saved = os.dup(2)
    except OSError:
        yield log
        return
    with tempfile.TemporaryFile() as sink:
        try:
            os.dup2(sink.fileno(), 2)
            yield log
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            log.text = sink.read().decode("utf-8", "replace")


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
    # not measured against its unprofiled runs here: its calibration takes the op profiler's times as they are
    profiler_slows_nodes = False
    precision_settings = ("f32", "f16")  # f16: XNNPACK's FORCE_FP16, where this CPU allows it
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
        if config.precision not in (None, *self.precision_settings):
            raise EngineError(f"--precision {config.precision} is not a setting LiteRT offers: f32 runs the file's own precision, "
                              "f16 XNNPACK's half-precision inference", "give --precision f32 or f16 for litert, or leave it out")
        throughput = config.hint == "throughput"
        # several requests run at once: each interpreter must not claim every core for itself
        threads = config.nthreads or (1 if throughput else (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
        requests = config.nireq or (1 if not throughput else (os.cpu_count() or 1))
        return LiteRTRunner(path, dict(input_shapes), config, threads, requests, self.version())


_EXIT_QUIETED = []


def _quiet_at_exit() -> None:
    """LiteRT's process-wide environment is a C++ static, destroyed after Python has finished, and
    logs each accelerator it takes down: fd 2 goes to the null device once Python's own exit
    handlers have run (flopbench has said all it has to say by then)."""
    if _EXIT_QUIETED:
        return
    _EXIT_QUIETED.append(True)

    def quiet() -> None:
        try:
            sys.stderr.flush()
            sink = os.open(os.devnull, os.O_WRONLY)
            os.dup2(sink, 2)
            os.close(sink)
        except (OSError, ValueError, AttributeError):
            pass

    atexit.register(quiet)


FORCE_FP16 = 0x4  # TFLITE_XNNPACK_DELEGATE_FLAG_FORCE_FP16 (tensorflow/lite/delegates/xnnpack/xnnpack_delegate.h)


class _InterpreterProgram:
    """The file on LiteRT's `Interpreter` (XNNPACK applied by default), at its stored precision."""

    def __init__(self, path: Path, threads: int, input_shapes: dict[str, tuple[int, ...]]):
        self.path = path
        interpreter = _open(path, threads)
        try:
            for detail in interpreter.get_input_details():
                shape = input_shapes.get(detail["name"])
                if shape is not None and tuple(detail["shape"]) != tuple(shape):
                    interpreter.resize_tensor_input(detail["index"], list(shape), strict=False)
            with _quiet_stderr():
                interpreter.allocate_tensors()
        except EngineError:
            raise
        except Exception as exc:
            _refuse_prepared(path, exc)
        self.interpreter = interpreter
        self._inputs = interpreter.get_input_details()
        self._outputs = interpreter.get_output_details()
        self.invoke = interpreter.invoke

    def executed_precision(self) -> str:
        return _stored_precision(self.interpreter)

    def bind(self, inputs: dict[str, np.ndarray]) -> None:
        for detail in self._inputs:
            array = inputs.get(detail["name"])
            if array is None:
                raise EngineError(f"no data for model input {detail['name']!r}", "give it with -i name:file.npy")
            self.interpreter.set_tensor(detail["index"], np.ascontiguousarray(array, dtype=detail["dtype"]))

    def outputs(self) -> dict[str, np.ndarray]:
        return {d["name"]: self.interpreter.get_tensor(d["index"]).copy() for d in self._outputs}

    def close(self) -> None:
        self.interpreter = self.invoke = None


class _CompiledProgram:
    """The file on LiteRT's `CompiledModel` with XNNPACK's FORCE_FP16 flag: its float ops in f16."""

    def __init__(self, path: Path, threads: int, input_shapes: dict[str, tuple[int, ...]], stored: str):
        try:
            from ai_edge_litert.compiled_model import CompiledModel
            from ai_edge_litert.cpu_options import CpuOptions
            from ai_edge_litert.options import Options
        except ImportError:
            raise EngineError("this LiteRT has no CompiledModel API, which f16 runs through",
                              "pip install -U ai-edge-litert, or give --precision f32") from None
        self.path = path
        _quiet_at_exit()
        with _quiet_stderr() as log:
            try:
                model = CompiledModel.from_file(str(path), options=Options(cpu_options=CpuOptions(num_threads=threads, xnnpack_flags=FORCE_FP16)))
                signature = next(iter(model.get_signature_list()))
                names = model.get_signature_list()[signature]["inputs"]
                for index, name in enumerate(names):
                    shape = input_shapes.get(name)
                    if shape is not None and tuple(model.get_input_tensor_details(signature)[name]["shape"]) != tuple(shape):
                        model.resize_input_tensor(index, list(shape), 0)
                self._in = model.create_input_buffers(0)
                self._out = model.create_output_buffers(0)
                accelerated = model.is_fully_accelerated()
                # once here, where its log is kept: the first write makes LiteRT's process-wide
                # environment, and the first run prepares the ops (a custom op fails only then)
                for buffer, name in zip(self._in, names):
                    detail = model.get_input_tensor_details(signature)[name]
                    buffer.write(np.zeros(int(np.prod(detail["shape"])), dtype=detail["dtype"]))
                model.run_by_index(0, self._in, self._out)
            except Exception as exc:
                error = exc
            else:
                error = None
        if error is not None:
            why = log.errors() or engine_message(error)
            if "custom op" in log.text:
                raise EngineError(f"LiteRT cannot run {path.name}: {why}",
                                  "the custom op must be registered with LiteRT, which flopbench cannot do; "
                                  "flopbench flops counts the model, and --engine openvino runs it if OpenVINO knows the op")
            raise EngineError(f"LiteRT cannot run {path.name} in f16 on this CPU: {why}",
                              "give --precision f32 (XNNPACK's half-precision inference needs a CPU and a LiteRT build that have it)")
        self.model = model
        self._names = names
        self._details = model.get_input_tensor_details(signature)
        self._out_details = model.get_output_tensor_details(signature)
        base = stored.split(",")[0] if stored.startswith("int8") else "f16"
        outside = "" if accelerated else ", ops XNNPACK does not take in f32"
        self._executed = f"{base} (XNNPACK FORCE_FP16{outside})" if base == "f16" else f"{stored.split(',')[0]}, float ops in f16 (XNNPACK FORCE_FP16)"

    def executed_precision(self) -> str:
        return self._executed

    def bind(self, inputs: dict[str, np.ndarray]) -> None:
        arrays = []  # all checked before any is written
        for name in self._names:
            array = inputs.get(name)
            if array is None:
                raise EngineError(f"no data for model input {name!r}", "give it with -i name:file.npy")
            arrays.append(np.ascontiguousarray(array, dtype=self._details[name]["dtype"]).ravel())
        for buffer, array in zip(self._in, arrays):
            buffer.write(array)

    def invoke(self) -> None:
        self.model.run_by_index(0, self._in, self._out)

    def outputs(self) -> dict[str, np.ndarray]:
        found = {}
        for (name, detail), buffer in zip(self._out_details.items(), self._out):
            count = int(np.prod(detail["shape"]))
            found[name] = np.array(buffer.read(count, np.dtype(detail["dtype"]))).reshape(detail["shape"])
        return found

    def close(self) -> None:
        with _quiet_stderr():  # the environment logs as it takes its accelerators down
            self._in = self._out = None
            model, self.model = self.model, None
            if model is not None:
                model.close()
            del model
            gc.collect()


def _refuse_prepared(path: Path, exc: Exception):
    if "custom op" in str(exc):  # LiteRT reads the file and fails only when preparing the op
        raise EngineError(f"LiteRT cannot run {path.name}: {engine_message(exc)}",
                          "the custom op must be registered with LiteRT, which flopbench cannot do; "
                          "flopbench flops counts the model, and --engine openvino runs it if OpenVINO knows the op") from None
    raise EngineError(f"LiteRT cannot prepare {path.name}: {engine_message(exc)}",
                      "check --shape / -b against the model's inputs") from None


class LiteRTRunner:
    def __init__(self, path: Path, input_shapes: dict[str, tuple[int, ...]], config: EngineConfig, threads: int,
                 requests: int, version: str):
        self.path, self.config, self._input_shapes = path, config, input_shapes
        self._threads = threads
        self._program = self._prepared()
        self.settings = EngineSettings(
            engine=LiteRTEngine.name, engine_version=version, device=config.device, device_name="XNNPACK delegate",
            precision=config.precision or "f32", hint=config.hint, streams=None,  # no streams: each request runs a program on a thread
            threads=threads, requests=requests, optimal_requests=None,
            extra={"delegate": "XNNPACK (LiteRT's default CPU delegate)",
                   "api": "CompiledModel (FORCE_FP16)" if config.precision == "f16" else "Interpreter"},
            executed_precision=self._program.executed_precision(),
        )
        self._requests = None
        self._programs = [self._program]

    def _prepared(self):
        """A program for the file with the chosen input shapes, ready to run."""
        if self.config.precision == "f16":
            stored = _stored_precision(_open(self.path, 1))
            return _CompiledProgram(self.path, self._threads, self._input_shapes, stored)
        return _InterpreterProgram(self.path, self._threads, self._input_shapes)

    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._program.bind(inputs)
        self._program.invoke()
        return self._program.outputs()

    def sync_step(self, inputs: dict[str, np.ndarray]):
        self._program.bind(inputs)
        return self._program.invoke, None

    def async_hooks(self, inputs: dict[str, np.ndarray]) -> AsyncHooks:
        """Concurrent runs on a thread pool; a program is not thread-safe, so each worker thread has
        its own (an inference releases the GIL)."""
        local = threading.local()
        lock = threading.Lock()

        def job() -> None:
            program = getattr(local, "program", None)
            if program is None:
                with lock:  # stderr is redirected while one is made
                    program = local.program = self._prepared()
                    self._programs.append(program)
                program.bind(inputs)
            program.invoke()

        self._requests = ExecutorRequests(job, self.settings.requests)
        return AsyncHooks(start=self._requests.start, wait_all=self._requests.wait_all,
                          drain_latencies=self._requests.drain_latencies, latency_kind="call")

    def node_times(self, inputs: dict[str, np.ndarray], iterations: int = 10) -> list[NodeTime]:
        return list(self.profiled_run(inputs, iterations, warmup=0).nodes)

    def profiled_run(self, inputs: dict[str, np.ndarray], iterations: int, warmup: int = 5,
                     model=None, counted=None, between=None, block: int = 0) -> ProfiledRun:
        LiteRTEngine().check_profilable(self.config.device)
        raise AssertionError("unreachable")  # pragma: no cover

    def compiled_nodes(self, model=None, counted=None) -> tuple[NodeTime, ...]:
        raise ProfilingError("LiteRT does not show the graph it compiled (XNNPACK's partitions are internal), "
                             "so flopbench cannot predict on it", "predict with another --engine")

    def close(self) -> None:
        requests, self._requests = self._requests, None
        if requests is not None:
            requests.close()
        programs, self._programs = self._programs, []
        for program in programs:
            program.close()
        self._program = None
