"""What every engine offers: compile a model, run it once, hand the run policy its hooks, and
report per-node times. Adding an engine is one module that implements `Engine` and `Runner`."""
from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ...errors import EngineError, FlopbenchError, OptionError
from ...results.codec import encoded

HINTS = ("latency", "throughput", "none")
PRECISIONS = ("f32", "bf16", "f16")


@encoded
@dataclass(frozen=True)
class EngineConfig:
    """What the user asked for; `None` leaves the engine's default. A config checks itself when
    made: an invalid one cannot exist, so nothing downstream checks it again."""

    device: str = "CPU"
    hint: str = "latency"
    nstreams: int | None = None
    nthreads: int | None = None
    nireq: int | None = None
    precision: str | None = None
    profile: bool = False  # per-node timing (OpenVINO PERF_COUNT, ONNX Runtime profiling)
    # every op its own node, no elementwise ops merged into one kernel (the roofline's bandwidth chain)
    separate_nodes: bool = False
    # another session of this process runs between this one's blocks (profile's unprofiled twin, the
    # study's pair, the roofline's two chains): an engine whose idle threads keep spinning for work
    # would take the cores the other one is timed on
    alternating: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~flopbench.errors.OptionError` (problem, fix) for a value that cannot work."""
        if self.hint not in HINTS:
            raise OptionError(f"unknown -hint {self.hint!r}", f"choose one of: {', '.join(HINTS)}")
        if self.precision is not None and self.precision not in PRECISIONS:
            raise OptionError(f"unknown --precision {self.precision!r}", f"choose one of: {', '.join(PRECISIONS)}")
        for flag, value in (("-nstreams", self.nstreams), ("-nthreads", self.nthreads), ("-nireq", self.nireq)):
            if value is not None and value < 1:
                raise OptionError(f"{flag} {value} is not allowed", f"give {flag} 1 or more, or leave it out for the engine's default")
            if value is not None and value > 4096:
                raise OptionError(f"{flag} {value} is too large", f"give {flag} at most 4096")



@encoded
@dataclass(frozen=True)
class EngineSettings:
    """What the engine actually used, read back from the compiled model."""

    engine: str
    engine_version: str
    device: str
    device_name: str
    precision: str
    hint: str
    streams: int | None
    threads: int | None
    requests: int  # requests the harness will use
    optimal_requests: int | None = None  # what the engine recommends
    extra: dict[str, Any] = field(default_factory=dict)
    # what ran, read back from the engine: "int8 (quantized model), float ops in bf16", or "bf16"
    executed_precision: str = ""
    # the model's op name → the precision of the engine node that ran it ("u8", "i8", "bf16", "f32")
    op_precisions: dict[str, str] = field(default_factory=dict)


@encoded
@dataclass(frozen=True)
class NodeTime:
    """One executed node of the engine's runtime graph and its mean time per inference."""

    name: str
    type: str  # the engine's layer type
    exec_type: str  # kernel used, e.g. "jit_avx512_FP32"
    time_ns: int
    original_names: tuple[str, ...]  # ops of the original model this node covers (fusion)
    status: str = "EXECUTED"
    precision: str = ""  # the precision the node executed in (f32, bf16, i8 ...), "" if unknown
    node_id: str = ""  # the engine's own handle when names are not unique (ONNX Runtime's node index)
    inputs: tuple[str, ...] = ()  # the nodes of the engine's graph that feed this one
    # what the node really moves per inference, as executed (after fusion, in its precision, weights
    # as the kernel reads them): its inputs and weights, and its outputs; 0 when the engine does not say
    bytes_read: int = 0
    bytes_written: int = 0


@dataclass(frozen=True)
class ProfiledRun:
    """One profiled run: per-node mean times and the end-to-end latency of the very same inferences."""

    nodes: tuple[NodeTime, ...]
    iterations: int  # measured inferences the means cover (warm-up excluded)
    warmup: int
    latencies_ns: np.ndarray = field(repr=False)  # end-to-end latency of each measured inference
    latency_kind: str  # "engine": measured by the runtime; "call": timed around the call
    time_resolution_ns: int  # what one node time can resolve (OpenVINO: whole microseconds)
    complete: bool = True  # False when Ctrl-C stopped the run
    # (op, the op run in its place): counted ops the engine merged into an equal one and ran once
    merged_ops: tuple[tuple[str, str], ...] = ()
    # node name → its time in each measured inference (ns), where the engine times every one apart;
    # empty when it reports only a mean (OpenVINO's counters are a running mean in whole µs)
    node_samples_ns: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class AsyncHooks:
    start: Callable[[], None]  # submit one inference; blocks while every request is busy
    wait_all: Callable[[], None]
    drain_latencies: Callable[[], np.ndarray]  # ns per finished request since the last drain
    latency_kind: str = "engine"  # "engine": measured by the runtime; "call": timed around the request


class Runner(Protocol):
    settings: EngineSettings

    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def sync_step(self, inputs: dict[str, np.ndarray]) -> tuple[Callable[[], None], Callable[[], np.ndarray] | None]:
        """A no-argument callable that runs one inference, and (if the engine measures its own
        latency) a callable returning those latencies in ns, one per step run so far."""
        ...

    def async_hooks(self, inputs: dict[str, np.ndarray]) -> AsyncHooks: ...

    def node_times(self, inputs: dict[str, np.ndarray], iterations: int) -> list[NodeTime]: ...

    def profiled_run(self, inputs: dict[str, np.ndarray], iterations: int, warmup: int = 5,
                     model: Any = None, counted: Collection[str] | None = None,
                     between: Callable[[], None] | None = None, block: int = 0) -> ProfiledRun:
        """`warmup` inferences, then `iterations` timed ones with per-node times. Given `model`
        (the LoadedModel flopbench counted), each node's `original_names` name the ops of that
        reading it computed (only those in `counted`, when given), however the engine renamed them.
        The timed inferences run through the policy's loop (:class:`~flopbench.measure.policy.SyncBlocks`).
        Given `between`, it is called after every `block` timed inferences and after the last, shorter
        block (to run something else in alternating blocks: the same model unprofiled), outside the
        inferences' own timing."""
        ...

    def compiled_nodes(self, model: Any = None, counted: Collection[str] | None = None) -> tuple[NodeTime, ...]:
        """The nodes of the graph the engine compiled, without running it: their types, kernels,
        precisions, the counted ops each covers (as `profiled_run` names them) and, where the compiled
        graph says, the bytes each moves; `time_ns` is 0. Needs the runner compiled with profile=True."""
        ...

    def close(self) -> None: ...


class Engine(Protocol):
    """Everything flopbench knows about one engine lives on its class: the rest of flopbench asks
    it rather than testing its name."""

    name: str  # what --engine takes
    display_name: str  # how messages name it: "ONNX Runtime"
    package: str  # the distribution whose version results record
    aliases: tuple[str, ...]  # other names --engine takes
    file_kinds: tuple[str, ...]  # the file suffixes it runs; () for every format flopbench reads
    # whether it reads a file the way flopbench's model reader does: then the reader's refusal is its own
    reads_as_model_reader: bool
    # whether its per-node times overstate what the nodes take unprofiled: calibration then fits the
    # layers to each sweep model's unprofiled latency (profiling/calibration.py as_unprofiled)
    profiler_slows_nodes: bool
    # the precisions it can be told to run (--precision), and those a study compares by default
    precision_settings: tuple[str, ...]
    compared_precisions: tuple[str, ...]
    error_modules: tuple[str, ...]  # the modules its own exceptions come from

    def version(self) -> str: ...

    def devices(self) -> list[str]: ...

    def check_device(self, device: str) -> None:
        """Raise EngineError naming the devices this engine has when `device` is not one of them."""
        ...

    def check_model(self, model_path: str) -> None:
        """Raise EngineError when this engine cannot run a file of this kind at all."""
        ...

    def precisions(self, device: str) -> tuple[str, ...]:
        """The inference precisions (`PRECISIONS` names) this engine can be told to use on `device`."""
        ...

    def check_profilable(self, device: str) -> None:
        """Raise ProfilingError when this engine cannot time `device`'s nodes one by one."""
        ...

    def roofline_precisions(self, cpu_flags: set[str]) -> tuple[str, ...]:
        """The precisions ("f32", "bf16", "i8") a roofline measures a peak for on a CPU with these flags."""
        ...

    def roofline_setting(self, precision: str) -> str | None:
        """The --precision to compile a roofline's measuring model with for that peak (None: the engine's own)."""
        ...

    def read_inputs(self, model_path: str, shapes: dict[str, tuple[int, ...]], batch: int | None) -> tuple[Any, ...]:
        """The model's real inputs (ModelInputInfo) with static shapes, read the way this engine reads the file."""
        ...

    def compile(self, model_path: str, input_shapes: dict[str, tuple[int, ...]], config: EngineConfig) -> Runner: ...


class engine_errors:
    """An engine that read the model but cannot compile or run it is a problem with the model or
    the settings (exit 2), not a flopbench bug: say so in one line."""

    def __init__(self, engine: str | Engine):
        self.engine = engine

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, FlopbenchError):
            return False
        from . import ENGINES, get_engine
        from ...errors import engine_message

        modules = tuple(module for engine in ENGINES.values() for module in engine.error_modules)
        from_engine = type(exc).__module__.startswith(modules)
        # the engines' C++ exceptions arrive as RuntimeError (IndexError, ValueError for some std ones)
        if not from_engine and not isinstance(exc, (RuntimeError, IndexError, ValueError, OverflowError)):
            return False  # a Python bug of ours stays an internal error
        try:
            name = (get_engine(self.engine) if isinstance(self.engine, str) else self.engine).display_name
        except EngineError:
            name = str(self.engine)

        raise EngineError(f"{name} failed to run the model: {engine_message(exc)}",
                          "check the model, --shape and the inputs (-i), or try the other engine") from None
