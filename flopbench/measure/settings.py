"""The three values every measurement takes -- what is measured (`ModelSpec`), on which engine
settings (`EngineConfig`), for how long (`RunPolicy`) -- made from the objects themselves or, for a
notebook, from keyword arguments (`bench(model, precision="f32", niter=100)`)."""
from __future__ import annotations

from dataclasses import fields
from typing import Any

from ..errors import OptionError
from ..model.spec import SPEC_KEYWORDS, ModelSpec
from .engines import EngineConfig
from .policy import RunPolicy

CONFIG_KEYWORDS = tuple(f.name for f in fields(EngineConfig))
POLICY_KEYWORDS = ("seconds", "niter", "min_iterations", "warmup", "max_duration")


def measurement_settings(caller: str, model: Any, config: EngineConfig | None, keywords: dict[str, Any],
                         policy: RunPolicy | None = None, timed: bool = True) -> tuple[ModelSpec, EngineConfig, RunPolicy | None]:
    """(ModelSpec, EngineConfig, RunPolicy) of `caller`'s arguments: each object as given, or made
    from its keywords -- never both. `timed=False` for a caller whose length is its own (run's
    `niter`, profile's `iterations`): it takes no RunPolicy keywords and returns None for it."""
    allowed = SPEC_KEYWORDS + CONFIG_KEYWORDS + (POLICY_KEYWORDS if timed else ())
    unknown = sorted(set(keywords) - set(allowed))
    if unknown:
        length = f"; run length: {', '.join(POLICY_KEYWORDS)}" if timed else ""
        raise OptionError(f"{caller} has no setting {', '.join(map(repr, unknown))}",
                          f"the model: {', '.join(SPEC_KEYWORDS)}; engine settings: {', '.join(CONFIG_KEYWORDS)}{length}")
    spec = ModelSpec.of(model, **{k: v for k, v in keywords.items() if k in SPEC_KEYWORDS})
    engine = {k: v for k, v in keywords.items() if k in CONFIG_KEYWORDS}
    length = {k: v for k, v in keywords.items() if k in POLICY_KEYWORDS}
    if engine and config is not None or length and policy is not None:
        raise OptionError(f"{caller} was given a config or policy object and keyword settings for it", "give one or the other")
    config = config or EngineConfig(**engine)
    if timed and policy is None:
        warmup = length.pop("warmup", RunPolicy.warmup_iterations)
        policy = RunPolicy.from_flags(**length, warmup=warmup)
    return spec, config, policy
