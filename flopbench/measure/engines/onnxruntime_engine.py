"""ONNX Runtime: the CPU provider and any other installed provider. It measures no latency of its
own, so only the call latency exists here."""
from __future__ import annotations

import json
import mmap
import os
import re
import threading
import weakref
from pathlib import Path

import numpy as np

from ...errors import EngineError, ProfilingError, engine_message
from ...model.reading import ModelInputInfo
from ...model.shapes import DeclaredInput, ShapeSpec, resolve_static_shapes
from ...results.writing import held_folder
from ..policy import SyncBlocks
from ..requests import ExecutorRequests
from .base import AsyncHooks, EngineConfig, EngineSettings, NodeTime, ProfiledRun

# flopbench's device names, as OpenVINO spells them, mapped to ONNX Runtime providers
DEVICE_PROVIDERS = {"CPU": "CPUExecutionProvider", "GPU": "CUDAExecutionProvider", "NPU": "OpenVINOExecutionProvider"}


class OnnxRuntimeEngine:
    name = "onnxruntime"
    display_name = "ONNX Runtime"
    package = "onnxruntime"
    aliases = ("ort",)
    file_kinds = (".onnx",)
    reads_as_model_reader = False  # it reads ONNX files OpenVINO refuses (custom domains, QOperator)
    # its profiler slows the nodes it times, a short run's most: one-layer models under 1 ms ran
    # unprofiled in 0.63-0.74x their profiled nodes' sum in this machine's calibration (medians)
    profiler_slows_nodes = True
    precision_settings = ("f32",)  # the model's own precision; no engine setting changes it
    compared_precisions = ("f32",)
    error_modules = ("onnxruntime",)

    def version(self) -> str:
        import onnxruntime

        return onnxruntime.__version__

    def devices(self) -> list[str]:
        import onnxruntime

        available = onnxruntime.get_available_providers()
        return [device for device, provider in DEVICE_PROVIDERS.items() if provider in available] + \
               [p for p in available if p not in DEVICE_PROVIDERS.values()]

    def _provider(self, device: str) -> str:
        import onnxruntime

        available = onnxruntime.get_available_providers()
        provider = DEVICE_PROVIDERS.get(device.upper(), device)
        if provider not in available:
            raise EngineError(f"device {device!r} is not available to ONNX Runtime on this machine",
                              f"use one of: {', '.join(self.devices())}")
        return provider

    def check_device(self, device: str) -> None:
        self._provider(device)

    def check_model(self, model_path: str | os.PathLike) -> None:
        path = Path(model_path)
        if path.suffix.lower() != ".onnx":
            raise EngineError(f"ONNX Runtime cannot run {path.name}: it runs ONNX files only",
                              "use --engine openvino, or give the model as .onnx")

    def precisions(self, device: str) -> tuple[str, ...]:
        return self.precision_settings

    def check_profilable(self, device: str) -> None:
        if device.split(":")[0].split(".")[0].upper() != "CPU":
            raise ProfilingError(f"ONNX Runtime's profile on {device} is not supported by flopbench",
                                 "profile on -d CPU, or use --engine openvino")

    def roofline_precisions(self, cpu_flags: set[str]) -> tuple[str, ...]:
        return ("f32",)  # no setting makes its kernels run in another precision

    def roofline_setting(self, precision: str) -> str | None:
        return None

    def read_inputs(self, model_path: str | os.PathLike, shapes: ShapeSpec, batch: int | None) -> tuple[ModelInputInfo, ...]:
        """The model's real inputs with static shapes, read with the `onnx` package: ONNX Runtime
        runs models (custom-domain, QOperator) that OpenVINO cannot read."""
        import onnx
        from onnx.helper import tensor_dtype_to_np_dtype

        path = Path(model_path)
        try:
            graph = onnx.load(str(path), load_external_data=False).graph
        except Exception as exc:
            raise EngineError(f"ONNX Runtime cannot read {path.name}: {engine_message(exc)}", "check the model file") from None
        initializers = {i.name for i in graph.initializer}
        real = [i for i in graph.input if i.name not in initializers]
        declared, dtypes = [], []
        for item in real:
            tensor = item.type.tensor_type
            dims = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tensor.shape.dim) \
                if tensor.HasField("shape") else None
            shown = "[" + ",".join("?" if d is None else str(d) for d in dims) + "]" if dims is not None else "[...]"
            declared.append(DeclaredInput(names=(item.name,), dims=dims, shown=shown))
            dtypes.append(np.dtype(tensor_dtype_to_np_dtype(tensor.elem_type)).name if tensor.elem_type else "float32")
        shapes_chosen = resolve_static_shapes(declared, shapes, batch)
        return tuple(ModelInputInfo(name=d.names[0], shape=s, dtype=t) for d, s, t in zip(declared, shapes_chosen, dtypes))

    def compile(self, model_path: str, input_shapes: dict[str, tuple[int, ...]], config: EngineConfig) -> "OnnxRuntimeRunner":
        import onnxruntime

        path = Path(model_path)
        self.check_model(path)
        if config.precision not in (None, "f32"):
            raise EngineError(f"--precision {config.precision} is an OpenVINO setting; ONNX Runtime's CPU provider runs the model's own precision",
                              "leave --precision out for onnxruntime, or use --engine openvino")
        provider = self._provider(config.device)
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if config.nthreads is not None:
            options.intra_op_num_threads = config.nthreads
        if config.hint == "throughput":
            # several requests run concurrently; each run must not claim every core for itself
            options.intra_op_num_threads = config.nthreads or 1
            options.inter_op_num_threads = 1
        if config.alternating:
            # a session's intra-op threads spin for work after each run: with two sessions taking
            # turns on a 2-core machine, the idle one's spinning doubled the other's time (mobilenet_v1:
            # 15.1 ms against 7.2 ms alone); stopped after each run, each takes its turns alone
            options.add_session_config_entry("session.force_spinning_stop", "1")
        optimized, remove_folder = None, None
        if config.profile:
            # held while this process lives: what a killed run leaves, the next profile removes
            held, remove_folder = held_folder("flopbench-ort-")
            folder = str(held)
            options.enable_profiling = True
            options.profile_file_prefix = os.path.join(folder, "profile")
            # the graph ONNX Runtime really runs (fused, NCHWc): what its profile's node names refer to
            optimized = options.optimized_model_filepath = os.path.join(folder, "optimized.onnx")
        try:
            session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=[provider])
            runner = OnnxRuntimeRunner(session, config, self.version(), provider, input_shapes, quantized=has_quantized_ops(path))
        except BaseException as exc:
            if remove_folder is not None:
                remove_folder()
            if not isinstance(exc, Exception):  # Ctrl-C, SIGTERM
                raise
            raise EngineError(f"ONNX Runtime cannot load {path.name}: {engine_message(exc)}", "check the model file, or use --engine openvino") from None
        runner.model_path, runner.optimized_model_path = path, optimized
        if remove_folder is not None:
            # removed by close(), else when the runner is collected or the process exits (a caller
            # that never closes it, a test's runner): nothing outlives the run
            runner._remove_folder = weakref.finalize(runner, remove_folder)
        return runner


# a NodeProto's op_type field (field 4, length-delimited) holding an op ONNX Runtime runs on 8-bit
# integer kernels (QDQ pairs around a Conv or MatMul are fused into QLinearConv / QLinearMatMul)
_QUANTIZED_OP_FIELD = re.compile(rb"\x22[\x0b-\x15](?:QuantizeLinear|DequantizeLinear|QLinearConv|QLinearMatMul|ConvInteger|"
                                 rb"MatMulInteger|DynamicQuantizeLinear|MatMulIntegerToFloat)")


def has_quantized_ops(path: str | os.PathLike) -> bool:
    """Whether the ONNX file has quantization ops: one scan of its bytes (ONNX Runtime offers no
    readback of the precision its kernels run in)."""
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _QUANTIZED_OP_FIELD.search(data) is not None
    except (OSError, ValueError):
        return False


class OnnxRuntimeRunner:
    def __init__(self, session, config: EngineConfig, version: str, provider: str, input_shapes, quantized: bool = False):
        self.session = session
        self.config = config
        requests = config.nireq or (1 if config.hint != "throughput" else (os.cpu_count() or 1))
        threads = config.nthreads if config.nthreads is not None else (1 if config.hint == "throughput" else os.cpu_count())
        self.settings = EngineSettings(
            engine="onnxruntime", engine_version=version, device=config.device, device_name=provider,
            precision="f32", hint=config.hint, streams=None,  # ONNX Runtime has no streams: requests run on threads
            threads=threads, requests=requests, optimal_requests=None,
            # its threads are the session's intra-op threads (inter-op is 1): what render calls them
            extra={"providers": list(session.get_providers()), "threads": "intra-op",
                   **({"spinning": "stopped after each run (another session takes turns with this one)"} if config.alternating else {})},
            executed_precision="int8 (quantized model), float ops in f32" if quantized else "f32",
        )
        self.model_path: Path | None = None
        self.optimized_model_path: str | None = None  # the graph its profile names (profiling only)
        self._input_shapes = dict(input_shapes or {})
        self._output_names = [o.name for o in session.get_outputs()]
        self._input_names = [i.name for i in session.get_inputs()]

    def _feeds(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [n for n in self._input_names if n not in inputs]
        if missing:
            raise EngineError(f"no data for model input {missing[0]!r}", "give it with -i name:file.npy")
        return {n: inputs[n] for n in self._input_names}

    def _binding(self, inputs: dict[str, np.ndarray]):
        """Inputs bound once, outputs kept on the device: the timed call does no feeding work."""
        binding = self.session.io_binding()
        for name, array in self._feeds(inputs).items():
            binding.bind_cpu_input(name, array)
        for name in self._output_names:
            binding.bind_output(name)
        return binding

    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            outputs = self.session.run(self._output_names, self._feeds(inputs))
        except Exception as exc:
            raise EngineError(f"ONNX Runtime failed to run the model: {engine_message(exc)}", "check the inputs' shapes and types") from None
        return dict(zip(self._output_names, outputs))

    def sync_step(self, inputs: dict[str, np.ndarray]):
        binding = self._binding(inputs)
        run = self.session.run_with_iobinding

        def step() -> None:
            run(binding)

        return step, None

    def async_hooks(self, inputs: dict[str, np.ndarray]) -> AsyncHooks:
        """Concurrent runs on a thread pool; each worker thread has its own IO binding."""
        local = threading.local()
        run = self.session.run_with_iobinding

        def job() -> None:
            binding = getattr(local, "binding", None)
            if binding is None:
                binding = local.binding = self._binding(inputs)
            run(binding)

        requests = ExecutorRequests(job, self.settings.requests)
        self._requests = requests
        return AsyncHooks(start=requests.start, wait_all=requests.wait_all,
                          drain_latencies=requests.drain_latencies, latency_kind="call")

    def node_times(self, inputs: dict[str, np.ndarray], iterations: int = 10) -> list[NodeTime]:
        """Mean per-node kernel time from ONNX Runtime's profiler; needs profile=True."""
        return list(self.profiled_run(inputs, iterations, warmup=0).nodes)

    def profiled_run(self, inputs: dict[str, np.ndarray], iterations: int, warmup: int = 5,
                     model=None, counted=None, between=None, block: int = 0) -> ProfiledRun:
        """`warmup` runs, then `iterations` measured ones: each node's mean kernel time over the
        measured runs (from the profiler's trace, which ends here: once per session) and each run's
        call latency. Ctrl-C keeps what was run. The trace names the nodes of the optimized graph;
        given `model`, each is mapped back to the counted ops it computes (onnxruntime_nodes)."""
        if not self.config.profile:
            raise EngineError("per-node times need profiling on", "compile with EngineConfig(profile=True)")
        binding = self._binding(inputs)
        run = self.session.run_with_iobinding
        for _ in range(warmup):
            run(binding)
        # between(): another session, which writes nothing into this one's trace
        timed = SyncBlocks(lambda: run(binding), block if between is not None and block > 0 else iterations, total=iterations)
        complete = timed.run_all(between)
        latencies = timed.latencies("call")
        trace = self.session.end_profiling()
        with open(trace, encoding="utf-8") as handle:
            events = json.load(handle)
        nodes = trace_node_times(events, len(latencies))
        samples = trace_node_samples(events, len(latencies))
        merged: tuple[tuple[str, str], ...] = ()
        if model is not None:
            nodes, merged = self._model_names(nodes, model, counted)
        return ProfiledRun(nodes=tuple(nodes), iterations=len(latencies), warmup=warmup,
                           latencies_ns=latencies, latency_kind="call",
                           time_resolution_ns=1000, complete=complete, merged_ops=merged, node_samples_ns=samples)

    def compiled_nodes(self, model=None, counted=None) -> tuple[NodeTime, ...]:
        """The optimized graph ONNX Runtime saved when it compiled (fused, NCHWc), each node named
        as its profile would name it (an unnamed one `<OpType>_<index>`) and, given `model`, mapped
        to the counted ops it computes. Each node's bytes are its tensors in that graph: its inputs
        (a fused residual sum read again), its weights as stored for its kernel, its outputs, the
        blocked layout's padded channels included (onnxruntime_nodes.executed_bytes)."""
        from .onnxruntime_nodes import compiled_graph, executed_bytes, graph_nodes, inferred_tensor_sizes, model_tensor_sizes

        if not self.optimized_model_path:
            raise EngineError("the compiled graph needs profiling on", "compile with EngineConfig(profile=True)")
        provider = self.settings.device_name  # the provider that runs it
        optimized, stored = compiled_graph(self.optimized_model_path)
        original = graph_nodes(self.model_path)
        sizes = model_tensor_sizes(model.ov_model) if model is not None else inferred_tensor_sizes(self.model_path, self._input_shapes)
        moved = executed_bytes(optimized, stored, original, sizes, nchwc_block())
        nodes = []
        for node, (read, written) in zip(optimized, moved):
            name, index = node.name, ""
            if not name:  # the profile calls it after its type and the index of the model's node it still is
                index = next((str(i) for i, each in enumerate(original)
                              if each.op_type == node.op_type and set(each.outputs) & set(node.outputs)), "")
                if not index:
                    continue
                name = f"{node.op_type}_{index}"
            nodes.append(NodeTime(name=name, type=node.op_type, exec_type=provider, time_ns=0, original_names=(name,),
                                  precision="f32", node_id=index, bytes_read=read, bytes_written=written))
        return tuple(self._model_names(nodes, model, counted)[0] if model is not None else nodes)

    def _model_names(self, nodes: list[NodeTime], model, counted) -> tuple[list[NodeTime], tuple[tuple[str, str], ...]]:
        """The nodes mapped to the counted ops they compute, and the ops merged into an equal one."""
        from .onnxruntime_nodes import equivalent_nodes, graph_nodes, merged_ops, ops_by_onnx_node, resolve

        original = graph_nodes(self.model_path)
        optimized = graph_nodes(self.optimized_model_path)
        equivalent = equivalent_nodes(self.model_path)
        ops = ops_by_onnx_node(model.ov_model, original, set(counted) if counted is not None else None)
        return resolve(nodes, optimized, original, ops, equivalent), merged_ops(optimized, original, ops, equivalent)

    def close(self) -> None:
        requests, self._requests = getattr(self, "_requests", None), None
        if requests is not None:
            requests.close()
        self.session = None
        remove = getattr(self, "_remove_folder", None)
        if remove is not None:  # the profile's folder (its trace, the optimized graph): nothing outlives the run
            remove()
            self.optimized_model_path = None


def nchwc_block() -> int:
    """The channels of one block of ONNX Runtime's NCHWc layout on this CPU (its MLAS kernels: 16
    floats with AVX-512, else 8)."""
    from ...results.metadata import cpu_flags

    return 16 if "avx512f" in cpu_flags() else 8


ONNX_PRECISIONS = {"float": "f32", "float16": "f16", "bfloat16": "bf16", "double": "f64", "int8": "i8", "uint8": "u8",
                   "int32": "i32", "int64": "i64"}


ONNX_ELEMENT_BYTES = {"float": 4, "float16": 2, "bfloat16": 2, "double": 8, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2,
                      "int32": 4, "uint32": 4, "int64": 8, "uint64": 8, "bool": 1}


def _tensor_bytes(shapes) -> int:
    """Bytes of a profiler event's tensors, `[{"float": [1, 3, 224, 224]}, ...]`."""
    total = 0
    for entry in shapes or ():
        if not isinstance(entry, dict):
            continue
        for kind, dims in entry.items():
            count = 1
            for dim in dims:
                count *= max(int(dim), 0)
            total += count * ONNX_ELEMENT_BYTES.get(kind, 4)
    return total


def trace_node_samples(events: list[dict], runs: int) -> dict[str, np.ndarray]:
    """Each node's kernel time (ns) in each of the last `runs` runs of a profiler trace: the
    events that fall in that run's window, summed (0 in a run it did not execute in)."""
    import bisect

    windows = sorted((int(e["ts"]), int(e["ts"]) + int(e.get("dur", 0))) for e in events
                     if e.get("cat") == "Session" and e.get("name") == "model_run")[-runs:] if runs else []
    if not windows:
        return {}
    starts = [start for start, _ in windows]
    samples: dict[str, np.ndarray] = {}
    for event in events:
        if event.get("cat") != "Node" or not str(event.get("name", "")).endswith("_kernel_time"):
            continue
        ts = int(event.get("ts", 0))
        run = bisect.bisect_right(starts, ts) - 1
        if run < 0 or ts > windows[run][1]:
            continue
        name = event["name"][: -len("_kernel_time")]
        samples.setdefault(name, np.zeros(len(windows), dtype=np.int64))[run] += int(event.get("dur", 0)) * 1000
    return samples


def trace_node_times(events: list[dict], runs: int) -> list[NodeTime]:
    """Mean kernel time per node over the last `runs` runs of a profiler trace (earlier runs are
    warm-up). A node without a name is traced as `<OpType>_<index>`; `node_id` keeps its index."""
    windows = sorted((int(e["ts"]), int(e["ts"]) + int(e.get("dur", 0))) for e in events
                     if e.get("cat") == "Session" and e.get("name") == "model_run")[-runs:] if runs else []
    if not windows:
        return []
    first = windows[0][0]
    totals: dict[str, list] = {}
    for event in events:
        if event.get("cat") != "Node" or not str(event.get("name", "")).endswith("_kernel_time"):
            continue
        if int(event.get("ts", 0)) < first:
            continue
        name = event["name"][: -len("_kernel_time")]
        args = event.get("args", {})
        shapes = args.get("input_type_shape") or [{}]
        precision = ONNX_PRECISIONS.get(next(iter(shapes[0]), ""), "") if shapes and isinstance(shapes[0], dict) else ""
        # the kernel's own accounting of activations and weights read and outputs written; a weight it
        # prepacked is no longer counted there, but is still read: the tensors' shapes count it
        read = max(int(args.get("activation_size", 0) or 0) + int(args.get("parameter_size", 0) or 0),
                   _tensor_bytes(args.get("input_type_shape")))
        written = max(int(args.get("output_size", 0) or 0), _tensor_bytes(args.get("output_type_shape")))
        entry = totals.setdefault(name, [args.get("op_name", ""), args.get("provider", ""), 0, precision, str(args.get("node_index", "")),
                                         read, written])
        entry[2] += int(event.get("dur", 0)) * 1000  # microseconds
    return [NodeTime(name=name, type=kind, exec_type=provider, time_ns=total // len(windows), original_names=(name,),
                     precision=precision, node_id=index, bytes_read=read, bytes_written=written)
            for name, (kind, provider, total, precision, index, read, written) in totals.items()]
