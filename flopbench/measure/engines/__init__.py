"""The inference engines flopbench measures with, by name. This list is the one place an engine is
registered; everything else asks the engine (see `Engine` in base.py)."""
from __future__ import annotations

from ...errors import EngineError, one_line
from .base import AsyncHooks, Engine, EngineConfig, EngineSettings, NodeTime, ProfiledRun, Runner, engine_errors
from .litert_engine import LiteRTEngine
from .onnxruntime_engine import OnnxRuntimeEngine
from .openvino_engine import OpenVINOEngine

ENGINES: dict[str, type] = {engine.name: engine for engine in (OpenVINOEngine, OnnxRuntimeEngine, LiteRTEngine)}
ALIASES = {alias: engine.name for engine in ENGINES.values() for alias in engine.aliases}
DEFAULT_ENGINE = OpenVINOEngine.name


def engine_name(name: str) -> str:
    """The registered name of `name` (an alias, any case), or EngineError."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in ENGINES:
        raise EngineError(f"unknown engine {one_line(repr(name), 80)}", f"choose one of: {', '.join(ENGINES)}")
    return key


def get_engine(name: str) -> Engine:
    return ENGINES[engine_name(name)]()


def engine_choices(several: bool = False) -> str:
    """The engines --engine takes, for a flag's help: "openvino (default), onnxruntime or ..."."""
    names = [f"{name} (default)" if name == DEFAULT_ENGINE else name for name in ENGINES]
    joined = ", ".join(names[:-1]) + (" and/or " if several else " or ") + names[-1] if len(names) > 1 else names[0]
    return joined + ("; repeat or comma-separate" if several else "")


def engine_packages() -> tuple[str, ...]:
    """The distributions whose versions decide whether two measurements are one series."""
    return tuple(engine.package for engine in ENGINES.values())


__all__ = ["get_engine", "engine_name", "engine_choices", "engine_packages", "ENGINES", "ALIASES", "DEFAULT_ENGINE",
           "Engine", "EngineConfig", "EngineSettings", "NodeTime", "ProfiledRun", "Runner", "AsyncHooks", "engine_errors"]
