"""The seed exercise's Task 2: run a model on one input N times and time it, with today's API."""
from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import EngineError, OptionError
from ..results.codec import json_field, result_kind
from ..results.metadata import result_metadata
from ..model.spec import ModelSpec
from .engines import DEFAULT_ENGINE, EngineConfig, EngineSettings, engine_errors
from .policy import RunPolicy, run_sync
from .session import open_session
from .settings import measurement_settings


@result_kind("run", version=1)
@dataclass(frozen=True)
class RunResult:
    model: str
    iterations: int
    seconds: float  # wall time of all iterations, as the exercise measures it
    top_class: int
    score: float
    score_is_probability: bool  # False when the output was logits and we applied softmax
    output_name: str = json_field(json="output")
    settings: EngineSettings
    warnings: tuple[str, ...] = ()
    outputs: dict[str, Any] = json_field(default_factory=dict, repr=False, compare=False, omit=True)
    metadata: Mapping[str, Any] = json_field(default_factory=dict, compare=False)
    complete: bool = True  # False when Ctrl-C stopped the run: `iterations` ran in `seconds`
    asked_iterations: int | None = None  # left out: the iterations that ran

    def __post_init__(self):
        if self.asked_iterations is None:
            object.__setattr__(self, "asked_iterations", self.iterations)


def top_class(scores: np.ndarray) -> tuple[int, float, bool]:
    flat = np.asarray(scores, dtype=np.float64).reshape(-1)
    if flat.size == 0:
        return 0, float("nan"), False
    if not np.isfinite(flat).all():  # NaN inputs give NaN outputs: name the largest finite score, if any
        finite = np.where(np.isfinite(flat), flat, -np.inf)
        index = int(finite.argmax())
        return index, float(flat[index]), False
    is_probability = bool(flat.size and flat.min() >= 0 and abs(flat.sum() - 1.0) < 1e-3)
    if not is_probability:
        shifted = np.exp(flat - flat.max())
        flat = shifted / shifted.sum()
    index = int(flat.argmax())
    return index, float(flat[index]), is_probability


MAX_RUN_ITERATIONS = 10_000_000


def check_iterations(niter) -> None:
    """Refuse an iteration count `run` cannot do, before any work."""
    if isinstance(niter, bool) or not isinstance(niter, (int, np.integer)):
        raise OptionError(f"-niter {niter!r} is not a whole number", "give -niter 1 or more")
    if niter < 1:
        raise OptionError(f"-niter {niter} is not allowed", "give -niter 1 or more")
    if niter > MAX_RUN_ITERATIONS:
        raise OptionError(f"-niter {niter} is too large", f"give at most {MAX_RUN_ITERATIONS:,}; use flopbench bench -t SECONDS for long runs")


def random_input_warning(spec: ModelSpec) -> tuple[str, ...]:
    """The top class of random data names nothing: say the input was random when no file was given."""
    if spec.inputs or spec.example_input is not None:
        return ()
    return (f"no -i file given: the input is seeded random data (seed {spec.seed}), so the top class means nothing; "
            "give -i FILE.npy for a real answer",)


def run(model: ModelSpec | str | os.PathLike, engine: str = DEFAULT_ENGINE, config: EngineConfig | None = None, niter: int = 10, *,
        on_start: Callable[[], None] | None = None, **settings: Any) -> RunResult:
    """Load a model, feed it its inputs, infer `niter` times. `model` is a `ModelSpec` or the model
    itself with its settings as keywords (`inputs`: .npy files, random if none; `shape`; `layout`
    (`input[NHWC]`): an input file's axes in another order than the model's); the engine's
    settings are `config` or keywords (`device`, `precision` ...). One request at a time, always.
    Ctrl-C during the timed loop returns what was measured, marked incomplete; `on_start` is
    called when the timed loop starts."""
    check_iterations(niter)
    spec, config, _ = measurement_settings("run()", model, config, settings, timed=False)
    config = replace(config, hint="latency")
    with open_session(spec, engine, config, count=False) as session:
        runner, prepared = session.runner, session.inputs
        with engine_errors(session.engine.name):
            outputs = runner.infer(prepared.arrays)
            step, _ = runner.sync_step(prepared.arrays)
        if on_start is not None:
            on_start()
        # bench's timed loop: Ctrl-C keeps what ran, the interrupted inference not counted
        with engine_errors(session.engine.name):
            record = run_sync(step, RunPolicy(warmup_iterations=0, min_duration_s=None, min_iterations=niter))
        done, seconds = record.iterations, record.wall_s
    path = session.model.path
    if not outputs:
        raise EngineError(f"{path.name} has no outputs", "give a model that computes something")
    name, scores = next(iter(outputs.items()))
    index, score, is_probability = top_class(scores)
    return RunResult(model=str(path), iterations=done, seconds=seconds, top_class=index, score=score,
                     score_is_probability=is_probability, output_name=name, settings=runner.settings,
                     warnings=prepared.warnings + random_input_warning(spec), outputs=outputs, metadata=result_metadata(),
                     complete=done == niter,
                     asked_iterations=niter)
