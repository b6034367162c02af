"""OpenVINO: any device its Core lists; latency from `InferRequest.latency`, as benchmark_app."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...counting.optypes import op_facts
from ...errors import EngineError, ModelFileError, ProfilingError, engine_message
from ...model.core import openvino_core, quiet_native_stderr
from ...model.reading import ModelInputInfo, load, read_openvino_model
from ...model.shapes import ShapeSpec
from ..policy import SyncBlocks
from .base import PRECISIONS, AsyncHooks, EngineConfig, EngineSettings, NodeTime, ProfiledRun

VIRTUAL_DEVICES = ("AUTO", "MULTI", "HETERO", "BATCH")


def _property(compiled, key, default=None):
    try:
        return compiled.get_property(key)
    except Exception:  # a device may not expose every property
        return default


EXECUTED_PRECISIONS = ("f32", "bf16", "f16", "i8", "u8", "i32", "i4", "u4", "f8e4m3", "f8e5m2")


def executed_precision(exec_type: str) -> str:
    """The precision a node ran in: the CPU plugin ends its kernel names with it (`brgconv_avx512_1x1_bf16`)."""
    tail = exec_type.rsplit("_", 1)[-1].lower()
    return tail if tail in EXECUTED_PRECISIONS else ""


def _precision_name(value) -> str:
    text = str(getattr(value, "get_type_name", lambda: value)())
    return {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}.get(text, text)


# runtime node types whose work is multiply-accumulates, int8 when they run on u8/i8 data: the
# model's multiply-accumulate op types (the op registry's), and the CPU plugin's names for some of them
RUNTIME_MAC_NODE_TYPES = {"FullyConnected", "Deconvolution"}
INTEGER_PRECISIONS = {"i8", "u8", "i4", "u4"}


def _rt(info, key: str) -> str:
    return str(info[key].astype(str)) if key in info else ""


def executed_precisions(compiled, float_precision: str) -> tuple[str, dict[str, str]]:
    """What the compiled model runs in: a summary ("int8 (quantized model), float ops in bf16" when
    its convolutions and matmuls run on 8-bit integers) and, per op of the original model, the
    runtime precision of the node that executes it."""
    try:
        nodes = compiled.get_runtime_model().get_ordered_ops()
    except Exception:  # a device without a runtime model to read back
        return float_precision, {}
    per_op: dict[str, str] = {}
    mac_nodes = integer_mac_nodes = 0
    for node in nodes:
        info = node.get_rt_info()
        kind, precision = _rt(info, "layerType"), _rt(info, "runtimePrecision").lower()
        if kind in ("Const", "Input", "Output") or not precision:
            continue
        for name in filter(None, _rt(info, "originalLayersNames").split(",")):
            per_op[name] = precision
        if kind in RUNTIME_MAC_NODE_TYPES or op_facts(kind).multiplies:
            mac_nodes += 1
            integer_mac_nodes += precision in INTEGER_PRECISIONS
    if not integer_mac_nodes:
        return float_precision, per_op
    share = "" if integer_mac_nodes == mac_nodes else f", {integer_mac_nodes} of {mac_nodes} convolutions and matmuls"
    return f"int8 (quantized model{share}), float ops in {float_precision}", per_op


class OpenVINOEngine:
    name = "openvino"
    display_name = "OpenVINO"
    package = "openvino"
    aliases = ("ov",)
    file_kinds = ()  # every format flopbench's model reader takes: it is OpenVINO's reading
    reads_as_model_reader = True
    # its performance counters time a node as it runs unprofiled: a one-layer model ran unprofiled in
    # 0.91-1.07x its counters' sum in this machine's calibration (medians, models over 30 µs)
    profiler_slows_nodes = False
    precision_settings = PRECISIONS
    compared_precisions = ("f32", "bf16")  # its CPU default where the CPU has bf16, and f32
    error_modules = ("openvino",)

    def version(self) -> str:
        import openvino as ov

        return ov.get_version()

    def devices(self) -> list[str]:
        return list(openvino_core().available_devices)

    def check_device(self, device: str) -> None:
        available = self.devices()
        base = device.split(":")[0].split(".")[0]
        if device in available or base in available or base in VIRTUAL_DEVICES:
            return
        raise EngineError(f"device {device!r} is not available to OpenVINO on this machine", f"use one of: {', '.join(available)}")

    def check_model(self, model_path: str | os.PathLike) -> None:
        """OpenVINO reads every format flopbench knows; `read_inputs` says what is wrong with a file."""

    def precisions(self, device: str) -> tuple[str, ...]:
        try:
            capabilities = openvino_core().get_property(device.split(":")[0], "OPTIMIZATION_CAPABILITIES")
        except Exception:  # a virtual device (AUTO ...) does not say: f32 is what every device has
            return ("f32",)
        names = {"FP32": "f32", "BF16": "bf16", "FP16": "f16"}
        return tuple(names[c] for c in capabilities if c in names) or ("f32",)

    def check_profilable(self, device: str) -> None:
        base = device.split(":")[0].split(".")[0].upper()
        if base in VIRTUAL_DEVICES:
            raise ProfilingError(f"device {device} cannot profile layer by layer: it hands the model to other devices",
                                 "give a real device, e.g. -d CPU")

    def roofline_precisions(self, cpu_flags: set[str]) -> tuple[str, ...]:
        """f32 always; bf16 and int8 where the CPU plugin has the instructions for them."""
        found = ["f32"]
        if cpu_flags & {"avx512_bf16", "amx_bf16"}:
            found.append("bf16")
        if cpu_flags & {"avx512_vnni", "avx_vnni", "amx_int8"}:
            found.append("i8")
        return tuple(found)

    def roofline_setting(self, precision: str) -> str | None:
        # an int8 peak is a quantized model's: its float ops (and the f32 peaks) are asked in f32
        return "f32" if precision == "i8" else precision

    def read_inputs(self, model_path: str | os.PathLike, shapes: ShapeSpec, batch: int | None) -> tuple[ModelInputInfo, ...]:
        return load(model_path, shape=shapes, batch=batch).inputs

    def compile(self, model_path: str, input_shapes: dict[str, tuple[int, ...]], config: EngineConfig) -> "OpenVINORunner":
        import openvino as ov

        core = openvino_core()
        try:
            with quiet_native_stderr():  # the names the count gave, for the profile's join
                model = read_openvino_model(model_path)
        except ModelFileError as exc:  # a custom op nothing runs
            raise EngineError(exc.problem, exc.fix) from None
        except Exception as exc:
            raise EngineError(f"OpenVINO cannot read {Path(model_path).name}: {engine_message(exc)}", "check the model file") from None
        shapes = {}
        for parameter in model.get_parameters():
            names = set(parameter.get_output_tensor(0).get_names()) | {parameter.get_friendly_name()}
            for name, dims in input_shapes.items():
                if name in names:
                    shapes[parameter.output(0)] = ov.PartialShape(list(dims))
        if shapes:
            try:
                model.reshape(shapes)
            except Exception as exc:
                raise EngineError(f"OpenVINO cannot reshape the model: {engine_message(exc)}", "check --shape / -b") from None
        properties: dict[str, object] = {}
        if config.hint != "none":
            properties["PERFORMANCE_HINT"] = config.hint.upper()
        if config.nstreams is not None:
            properties["NUM_STREAMS"] = config.nstreams
        if config.nthreads is not None:
            properties["INFERENCE_NUM_THREADS"] = config.nthreads
        if config.precision is not None:
            properties["INFERENCE_PRECISION_HINT"] = config.precision
        if config.profile:
            properties["PERF_COUNT"] = True
        if config.separate_nodes:  # snippets would compile a chain of elementwise ops into one kernel
            properties["SNIPPETS_MODE"] = "DISABLE"
        try:
            compiled = core.compile_model(model, config.device, properties)
        except Exception as exc:
            asked = ", ".join(f"{k}={v}" for k, v in properties.items()) or "defaults"
            raise EngineError(f"OpenVINO {config.device} rejected the model or settings ({asked}): {engine_message(exc)}",
                              "change -hint / -nstreams / -nthreads / --precision, or try another device") from None
        return OpenVINORunner(compiled, config, self.version())


class OpenVINORunner:
    def __init__(self, compiled, config: EngineConfig, version: str):
        self.compiled = compiled
        self.config = config
        # PERF_COUNT reports each node's mean over every inference its graph has run (whole µs):
        # counting them is the only way to take a mean over some of them
        self._inferences = 0
        optimal = _property(compiled, "OPTIMAL_NUMBER_OF_INFER_REQUESTS")
        requests = config.nireq or (1 if config.hint == "latency" else int(optimal or 1))
        core = openvino_core()
        device_name = self._device_name(core, config.device)
        float_precision = _precision_name(_property(compiled, "INFERENCE_PRECISION_HINT", "unknown"))
        executed, op_precisions = executed_precisions(compiled, float_precision)
        self.settings = EngineSettings(
            engine="openvino", engine_version=version, device=config.device, device_name=device_name,
            precision=float_precision, executed_precision=executed, op_precisions=op_precisions,
            hint=str(_property(compiled, "PERFORMANCE_HINT", config.hint)).lower().replace("performancemode.", ""),
            streams=_int_or_none(_property(compiled, "NUM_STREAMS")),
            threads=_int_or_none(_property(compiled, "INFERENCE_NUM_THREADS")),
            requests=requests, optimal_requests=_int_or_none(optimal),
            extra={"cpu_pinning": _property(compiled, "ENABLE_CPU_PINNING")} if config.device.startswith("CPU") else {},
        )

    @staticmethod
    def _device_name(core, device: str) -> str:
        try:
            return str(core.get_property(device, "FULL_DEVICE_NAME"))
        except Exception:
            return device

    @staticmethod
    def _port_name(port) -> str:
        names = sorted(port.get_names())
        return names[0] if names else port.get_node().get_friendly_name()

    def _bind(self, request, inputs: dict[str, np.ndarray]) -> None:
        import openvino as ov

        for port in self.compiled.inputs:
            names = set(port.get_names()) | {port.get_node().get_friendly_name()}
            array = next((inputs[n] for n in names if n in inputs), None)
            if array is None:
                raise EngineError(f"no data for model input {self._port_name(port)!r}", "give it with -i name:file.npy")
            # shared memory: the timed loop must not copy the inputs on every call
            request.set_tensor(port, ov.Tensor(array, shared_memory=True))

    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        request = self.compiled.create_infer_request()
        self._bind(request, inputs)
        request.infer()
        self._inferences += 1
        return {self._port_name(port): request.get_tensor(port).data.copy() for port in self.compiled.outputs}

    def sync_step(self, inputs: dict[str, np.ndarray]):
        request = self.compiled.create_infer_request()
        self._bind(request, inputs)
        return self._step(request)

    def _step(self, request):
        """One inference on `request` and the runtime's latencies (ns) of every one run so far."""
        engine_ms: list[float] = []
        record = engine_ms.append
        infer = request.infer

        def step() -> None:
            infer()
            record(request.latency)

        if self.config.profile:
            def step() -> None:  # noqa: F811 - profiled graphs count their inferences
                infer()
                self._inferences += 1
                record(request.latency)

        def engine_latencies() -> np.ndarray:
            return np.rint(np.asarray(engine_ms, dtype=np.float64) * 1e6).astype(np.int64)

        return step, engine_latencies

    def async_hooks(self, inputs: dict[str, np.ndarray]) -> AsyncHooks:
        import openvino as ov

        queue = ov.AsyncInferQueue(self.compiled, self.settings.requests)
        for request in queue:
            self._bind(request, inputs)
        # No Python completion callback: with one, every finished request makes an OpenVINO worker
        # thread take the GIL before the request can be reused (~20% of sep_cnn's throughput on
        # 2 cores). Like benchmark_app, read each request's latency on the submitting thread: when
        # the request is reused, and for those still in flight after wait_all(). start_async() takes
        # the request get_idle_request_id() returns (front of the idle queue; one submitter).
        finished: list[float] = []
        in_flight: set[int] = set()
        idle_id = queue.get_idle_request_id
        submit = queue.start_async
        record = finished.append

        def start() -> None:
            handle = idle_id()  # blocks, GIL released, until a request is free
            self._inferences += 1
            if handle in in_flight:
                record(queue[handle].latency)
            else:
                in_flight.add(handle)
            submit()

        def wait_all() -> None:
            queue.wait_all()
            for handle in in_flight:
                record(queue[handle].latency)
            in_flight.clear()

        def drain() -> np.ndarray:
            values = np.asarray(finished, dtype=np.float64)
            finished.clear()
            return np.rint(values * 1e6).astype(np.int64)

        self._queue = queue  # keep it alive as long as the runner
        return AsyncHooks(start=start, wait_all=wait_all, drain_latencies=drain)

    def node_times(self, inputs: dict[str, np.ndarray], iterations: int = 10) -> list[NodeTime]:
        """Mean per-node time over `iterations` runs; needs the runner compiled with profile=True."""
        return list(self.profiled_run(inputs, iterations, warmup=0).nodes)

    def _node_totals(self, request) -> dict[str, tuple[str, str, str, float]]:
        """(type, kernel, status, µs over every inference so far) per node: PERF_COUNT's mean × count."""
        return {info.node_name: (info.node_type, info.exec_type, str(info.status).split(".")[-1],
                                 info.real_time.total_seconds() * 1e6 * self._inferences)
                for info in request.profiling_info} if self._inferences else {}

    def _runtime_graph(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...], int, int]]:
        """Per node of the compiled graph: the original ops it covers, the nodes feeding it, and the
        bytes it reads and writes as executed."""
        graph = {}
        for node in self.compiled.get_runtime_model().get_ordered_ops():
            info = node.get_rt_info()
            names = str(info["originalLayersNames"].astype(str)) if "originalLayersNames" in info else ""
            feeds = tuple(node.input_value(i).get_node().get_friendly_name() for i in range(node.get_input_size()))
            read, written = executed_bytes(node)
            graph[node.get_friendly_name()] = (tuple(n for n in names.split(",") if n), feeds, read, written)
        return graph

    def compiled_nodes(self, model=None, counted=None) -> tuple[NodeTime, ...]:
        """The runtime graph as compiled: each node's kernel (`primitiveType`), precision, the
        original ops it covers and the bytes it moves. Nothing is run."""
        found = []
        constant: set[str] = set()  # constants, and nodes computed from constants alone (once, when compiled)
        for node in self.compiled.get_runtime_model().get_ordered_ops():
            info = node.get_rt_info()

            def text(key: str) -> str:
                return str(info[key].astype(str)) if key in info else ""

            kind = text("layerType")
            feeds = [node.input_value(i).get_node().get_friendly_name() for i in range(node.get_input_size())]
            if kind == "Const" or (feeds and all(feed in constant for feed in feeds)):
                constant.add(node.get_friendly_name())
                continue
            if kind in ("Input", "Output", "Parameter", "Result"):
                continue
            read, written = executed_bytes(node)
            exec_type = text("primitiveType")
            found.append(NodeTime(name=node.get_friendly_name(), type=kind, exec_type=exec_type, time_ns=0,
                                  original_names=tuple(n for n in text("originalLayersNames").split(",") if n),
                                  precision=executed_precision(exec_type) or text("runtimePrecision").lower(),
                                  inputs=tuple(node.input_value(i).get_node().get_friendly_name()
                                               for i in range(node.get_input_size())),
                                  bytes_read=read, bytes_written=written))
        return tuple(found)

    def profiled_run(self, inputs: dict[str, np.ndarray], iterations: int, warmup: int = 5,
                     model=None, counted=None, between=None, block: int = 0) -> ProfiledRun:
        """`warmup` inferences, then `iterations` measured ones: each node's mean time over the
        measured ones, and each one's latency (InferRequest.latency). Ctrl-C keeps what was run.
        The runtime graph names the original ops each node covers, which are the counted model's
        (the count reads the file with OpenVINO too): `model` and `counted` change nothing."""
        if not self.config.profile:
            raise EngineError("per-node times need profiling on", "compile with EngineConfig(profile=True)")
        if (self.settings.streams or 1) > 1:
            raise EngineError(f"per-node times need one stream; OpenVINO uses {self.settings.streams}",
                              "profile with -hint latency (the default) or -nstreams 1")
        request = self.compiled.create_infer_request()
        self._bind(request, inputs)
        for _ in range(warmup):
            request.infer()
            self._inferences += 1
        before = self._node_totals(request)
        step, engine_latencies = self._step(request)
        # between(): another compiled model's inferences, which leave this one's counters alone
        timed = SyncBlocks(step, block if between is not None and block > 0 else iterations,
                           engine_latencies=engine_latencies, total=iterations)
        complete = timed.run_all(between)
        latencies = timed.latencies("engine")
        done = len(latencies)
        after = self._node_totals(request)
        graph = self._runtime_graph()
        nodes = []
        for name, (kind, exec_type, status, total_us) in after.items():
            spent_us = max(0.0, total_us - before.get(name, (0, 0, 0, 0.0))[3])
            nodes.append(NodeTime(name=name, type=kind, exec_type=exec_type,
                                  time_ns=int(round(spent_us * 1e3 / done)) if done else 0,
                                  original_names=graph.get(name, ((), ()))[0], status=status,
                                  precision=executed_precision(exec_type), inputs=graph.get(name, ((), ()))[1],
                                  bytes_read=graph.get(name, ((), (), 0, 0))[2], bytes_written=graph.get(name, ((), (), 0, 0))[3]))
        return ProfiledRun(nodes=tuple(nodes), iterations=done, warmup=warmup,
                           latencies_ns=latencies,
                           latency_kind="engine", time_resolution_ns=1000, complete=complete)

    def close(self) -> None:
        self._queue = None
        self.compiled = None


# bytes per element of the runtime graph's element types and of its nodes' runtime precisions
ELEMENT_BYTES = {"f64": 8, "i64": 8, "u64": 8, "f32": 4, "i32": 4, "u32": 4, "bf16": 2, "f16": 2, "i16": 2, "u16": 2,
                 "i8": 1, "u8": 1, "boolean": 1, "u1": 1, "i4": 1, "u4": 1}
WEIGHT_PRECISIONS = {"bf16", "f16", "i8", "u8", "f32"}


def _element_bytes(name: str) -> int:
    return ELEMENT_BYTES.get(name.lower().replace("fp", "f").replace("int", "i"), 4)


def executed_bytes(node) -> tuple[int, int]:
    """(read, written) bytes of one node of the compiled graph, per inference: every input (a
    weight in the kernel's own precision, since the plugin repacks constants into it at compile
    time) and every output, in the element types the graph says it runs."""
    info = node.get_rt_info()
    runtime = str(info["runtimePrecision"].astype(str)).lower() if "runtimePrecision" in info else ""
    runtime = runtime.replace("fp", "f").replace("int", "i")

    def size(port, element: str) -> int:
        shape = port.get_partial_shape()
        if not shape.is_static:
            return 0
        count = 1
        for dim in shape.to_shape():
            count *= int(dim)
        return count * _element_bytes(element)

    read = 0
    for index in range(node.get_input_size()):
        source = node.input_value(index)
        element = source.get_element_type().get_type_name()
        if source.get_node().get_type_name() == "ExecutionNode" and "Const" in str(
                source.get_node().get_rt_info()["layerType"].astype(str) if "layerType" in source.get_node().get_rt_info() else "") \
                and runtime in WEIGHT_PRECISIONS:
            element = runtime
        read += size(source, element)
    written = sum(size(output, output.get_element_type().get_type_name()) for output in node.outputs())
    return read, written


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
