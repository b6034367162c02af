"""The inference engines flopbench measures with, by name."""
from __future__ import annotations

from ...errors import EngineError
from .base import AsyncHooks, Engine, EngineConfig, EngineSettings, NodeTime, ProfiledRun, Runner, engine_errors
from .onnxruntime_engine import OnnxRuntimeEngine
from .openvino_engine import OpenVINOEngine

ENGINES: dict[str, type] = {"openvino": OpenVINOEngine, "onnxruntime": OnnxRuntimeEngine}
ALIASES = {"ov": "openvino", "ort": "onnxruntime"}


def get_engine(name: str) -> Engine:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in ENGINES:
        raise EngineError(f"unknown engine {name!r}", f"choose one of: {', '.join(ENGINES)}")
    return ENGINES[key]()


__all__ = ["get_engine", "ENGINES", "Engine", "EngineConfig", "EngineSettings", "NodeTime", "ProfiledRun", "Runner", "AsyncHooks", "engine_errors"]
