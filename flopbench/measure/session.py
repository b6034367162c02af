"""The one setup path of every measurement (run, bench, profile, sweeps, fleet).

Resolve the engines, check the device, read the model the way each engine needs, count it, prepare
the inputs once, compile and run every engine once. Settings need no checking here: an
EngineConfig or RunPolicy checks itself when made, so an invalid one never reaches this far.
Each engine reads the model itself: ONNX Runtime never needs OpenVINO to read a file; when OpenVINO
cannot read it (a QOperator INT8 model with com.microsoft ops), the measurement goes on and the FLOP
count is reported unavailable, with OpenVINO's reason.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..counting import ModelCost, count_loaded
from ..errors import ModelFileError
from ..model.objects import ModelObjectFile, is_model_object, object_name
from ..model.reading import LoadedModel, ModelInputInfo, load
from ..model.shapes import normalize_shape_spec
from ..model.spec import ModelSpec
from .engines import DEFAULT_ENGINE, Engine, EngineConfig, Runner, engine_errors, get_engine
from .inputs import PreparedInputs, prepare_inputs


@dataclass
class Session:
    """One engine ready to measure one model: compiled, inputs prepared, run once."""

    engine: Engine
    config: EngineConfig
    runner: Runner
    model: "SessionModel"

    @property
    def inputs(self) -> PreparedInputs:
        return self.model.inputs

    @property
    def cost(self) -> ModelCost | None:
        return self.model.cost

    @property
    def loaded(self) -> LoadedModel | None:
        return self.model.loaded

    @property
    def count_unavailable(self) -> str | None:
        return self.model.count_unavailable

    def close(self) -> None:
        self.runner.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


@dataclass
class SessionModel:
    """What every engine of one measurement shares: the file, its inputs, its count."""

    path: Path
    input_infos: tuple[ModelInputInfo, ...]
    inputs: PreparedInputs
    loaded: LoadedModel | None  # OpenVINO's reading, for counting; None when OpenVINO cannot read the file
    cost: ModelCost | None
    count_unavailable: str | None = None  # why there is no count
    given_as: str | None = None  # how a model given as an object is named (`path` is then its temporary IR)

    @property
    def name(self) -> str:
        """The model as results name it: its path, or the object it was given as."""
        return self.given_as or str(self.path)

    @property
    def batch(self) -> int:
        first = self.input_infos[0].shape if self.input_infos else ()
        return first[0] if first else 1

    @property
    def warnings(self) -> tuple[str, ...]:
        notes = tuple(self.inputs.warnings)
        if self.count_unavailable:
            notes += (f"FLOPs unavailable: {self.count_unavailable}",)
        return notes


@dataclass
class Sessions:
    """Sessions of one model on several engines; closing closes every one."""

    model: SessionModel
    sessions: list[Session] = field(default_factory=list)
    asked: EngineConfig = field(default_factory=EngineConfig)  # what the caller asked; each session has its own config
    precision_matched: bool = False  # flopbench set every engine to COMMON_PRECISION (none was asked)
    model_file: Any = None  # the temporary IR of a model given as an object, removed on close

    @property
    def warnings(self) -> tuple[str, ...]:
        """What makes the engines' results not like with like."""
        used = {s.engine.name: s.runner.settings.precision for s in self.sessions}
        if len(set(used.values())) < 2:
            return ()
        named = ", ".join(f"{engine} {precision}" for engine, precision in used.items())
        return (f"the engines infer in different precisions ({named}): their times are not like with like; "
                f"give --precision {COMMON_PRECISION} to compare them at the same precision",)

    def __iter__(self):
        return iter(self.sessions)

    def __len__(self) -> int:
        return len(self.sessions)

    def __getitem__(self, index: int) -> Session:
        return self.sessions[index]

    def close(self) -> None:
        for session in self.sessions:
            session.close()
        if self.model_file is not None:
            self.model_file.close()

    def __enter__(self) -> "Sessions":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _read_model(path: Path, engines: list[Engine], shape: Any, batch: int | None) -> tuple[LoadedModel | None, tuple[ModelInputInfo, ...], str | None]:
    """OpenVINO's reading (for the count and, when it reads the file, the inputs); an engine that
    reads the file itself is asked when OpenVINO cannot."""
    final = any(e.reads_as_model_reader for e in engines)
    try:
        loaded = load(path, shape=shape, batch=batch)
    except ModelFileError as exc:
        if final or not exc.openvino_refused:
            raise
        return None, engines[0].read_inputs(str(path), shape, batch), f"{exc.problem}"
    return loaded, loaded.inputs, None


COMMON_PRECISION = "f32"  # the precision every engine can run


def engine_configs(runtimes: Sequence[Engine], config: EngineConfig) -> tuple[list[EngineConfig], bool]:
    """Each engine's settings, and whether flopbench chose the precision. One engine alone keeps its
    own default precision (as benchmark_app does). Engines compared side by side run like with
    like: with no precision asked, every one runs COMMON_PRECISION; asked for one an engine cannot
    do, that engine runs its default and `Sessions.warnings` names the difference."""
    if len(runtimes) < 2:
        return [config] * len(runtimes), False
    if config.precision is None:
        return [replace(config, precision=COMMON_PRECISION)] * len(runtimes), True
    return [config if config.precision in runtime.precisions(config.device) else replace(config, precision=None)
            for runtime in runtimes], False


def open_sessions(model: ModelSpec | str | os.PathLike, engines: Sequence[str | Engine] = (DEFAULT_ENGINE,),
                  config: EngineConfig | None = None, *, count: bool = True) -> Sessions:
    """Set up a model (a `ModelSpec`, or a bare file with no settings) on every engine: each is
    compiled and has run once before this returns, so a model or input that one engine cannot run
    fails in seconds, before anything is measured. A model object (an `openvino.Model`, a
    `torch.nn.Module` with the spec's `example_input`) is saved as a temporary IR for the engines,
    which compile from files."""
    spec = model if isinstance(model, ModelSpec) else ModelSpec(model)
    config = config or EngineConfig()
    if is_model_object(spec.model):
        model_file = ModelObjectFile(spec.model, spec.example_input)
        try:
            sessions = open_sessions(replace(spec, model=model_file.path, example_input=None), engines, config, count=count)
        except BaseException:
            model_file.close()
            raise
        sessions.model_file = model_file
        sessions.model.given_as = object_name(spec.model)
        return sessions
    model = spec.model
    runtimes = [get_engine(e) if isinstance(e, str) else e for e in engines]
    if not runtimes:
        raise ValueError("open_sessions needs at least one engine")
    for runtime in runtimes:  # impossible combinations are refused before reading anything
        runtime.check_device(config.device)
        runtime.check_model(str(model))
    loaded, infos, unavailable = _read_model(Path(model), runtimes, normalize_shape_spec(spec.shape), spec.batch)
    cost = count_loaded(loaded) if loaded is not None and count else None
    prepared = prepare_inputs(infos, spec.input_files, seed=spec.seed, layout=spec.layout)
    shared = SessionModel(path=loaded.path if loaded else Path(model), input_infos=infos, inputs=prepared, loaded=loaded,
                          cost=cost, count_unavailable=unavailable if count else None)
    configs, matched = engine_configs(runtimes, config)
    sessions = Sessions(model=shared, asked=config, precision_matched=matched)
    input_shapes = {i.name: i.shape for i in infos}
    try:
        for runtime, engine_config in zip(runtimes, configs):
            with engine_errors(runtime.name):
                runner = runtime.compile(str(shared.path), input_shapes, engine_config)
                sessions.sessions.append(Session(engine=runtime, config=engine_config, runner=runner, model=shared))
                runner.infer(prepared.arrays)
    except BaseException:
        sessions.close()
        raise
    return sessions


def open_session(model: ModelSpec | str | os.PathLike, engine: str | Engine = DEFAULT_ENGINE, config: EngineConfig | None = None, *,
                 count: bool = True) -> Session:
    """One engine's session (see `open_sessions`); use it as a context manager."""
    return open_sessions(model, [engine], config, count=count)[0]
