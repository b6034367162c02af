"""A model read, counted and compiled for predict and calibration, never run: the compiled graph's
nodes say what the engine fused, which kernels and precisions it picked and (OpenVINO) the bytes each
node moves. A model file's compiled graph is kept in the cache, so predicting it again does not
compile it."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..counting.cost import ModelCost
from ..errors import ProfilingError
from ..measure.engines import EngineConfig, NodeTime, engine_errors, get_engine


def compiled(model: str | os.PathLike, engine: str, device: str, precision: str | None, nthreads: int | None,
             shape: Any, batch: int | None):
    """(loaded model, its count, the engine's settings, the compiled graph's nodes): nothing is run.
    A model without FLOPs (a Concat alone) is fine here: calibration measures what it moves."""
    runtime, config, loaded, cost = read_and_count(model, engine, device, precision, nthreads, shape, batch, need_flops=False)
    settings, nodes = compile_nodes(runtime, config, loaded, cost)
    return loaded, cost, settings, nodes


def read_and_count(model: str | os.PathLike, engine: str, device: str, precision: str | None, nthreads: int | None,
                   shape: Any, batch: int | None, need_flops: bool = True):
    """(the engine, its config, the loaded model, its count), every argument checked: what is wrong
    with the request is said before anything is looked up or compiled."""
    from ..counting import count_loaded
    from ..model.reading import load
    from ..model.shapes import check_batch, normalize_shape_spec

    runtime = get_engine(engine)
    runtime.check_device(device)
    runtime.check_model(str(model))
    config = EngineConfig(device=device, hint="latency", precision=precision, nthreads=nthreads, profile=True)
    loaded = load(model, shape=normalize_shape_spec(shape), batch=check_batch(batch))
    cost = count_loaded(loaded)
    if need_flops and not any(op.counted and (op.flops or op.other_flops) for op in cost.ops):
        raise ProfilingError(f"{os.path.basename(str(model))} has no counted ops with FLOPs: there is no layer to predict",
                             "give a model with convolutions, matmuls or other ops flopbench counts (see flopbench flops)")
    return runtime, config, loaded, cost


COMPILED_SCHEMA = "flopbench/compiled-graph/1"


def _compiled_path(runtime, config: EngineConfig, loaded, source: Any) -> Path | None:
    """Where the compiled graph of this model file with these settings is kept: keyed by the file's
    (and its weights file's) path, size and modification time, so an edited file is compiled again.
    None for a model given as an object (its file is a temporary one)."""
    if not isinstance(source, (str, os.PathLike)) or not Path(source).is_file():
        return None
    from ..results.metadata import cpu_flags, cpu_model
    from .roofline import cache_dir

    stats = []
    for path in (Path(source), Path(source).with_suffix(".bin"), Path(source).with_suffix(".onnx_data"), Path(source).with_suffix(".data")):
        if path.is_file():
            found = path.stat()
            stats.append([str(path.resolve()), found.st_size, found.st_mtime_ns])
    key = json.dumps([stats, runtime.name, runtime.version(), config.device, config.precision, config.nthreads, config.hint,
                      {name: list(shape) for name, shape in loaded.input_shapes().items()}, cpu_model(), sorted(cpu_flags())])
    return cache_dir() / "compiled" / f"{runtime.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"


def compile_nodes(runtime, config: EngineConfig, loaded, cost: ModelCost, source: Any = None):
    """(the engine's settings, the compiled graph's nodes named after the model's ops). A model
    file compiled before with the same settings is not compiled again: its graph is kept in the
    cache (compiling is most of predict's time), keyed by the file's path, size and modification time."""
    from ..measure.engines import EngineSettings
    from ..results.codec import decode, encode
    from ..results.writing import write_text_atomic

    kept = _compiled_path(runtime, config, loaded, source)
    if kept is not None and kept.is_file():
        try:
            data = json.loads(kept.read_text(encoding="utf-8"))
            if data.get("schema") == COMPILED_SCHEMA:
                return decode(EngineSettings, data["settings"]), tuple(decode(NodeTime, node) for node in data["nodes"])
        except (ValueError, KeyError, TypeError, AttributeError, OSError):
            pass  # a damaged entry is compiled again and rewritten
    with engine_errors(runtime.name):
        runner = runtime.compile(str(loaded.path), loaded.input_shapes(), config)
        try:
            nodes = runner.compiled_nodes(loaded, {op.name for op in cost.ops})
            settings = runner.settings
        finally:
            runner.close()
    if kept is not None:
        try:
            kept.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(kept, json.dumps({"schema": COMPILED_SCHEMA, "settings": encode(settings),
                                                "nodes": [encode(node) for node in nodes]}) + "\n")
        except Exception:  # noqa: BLE001 - a cache that cannot be written only costs the next compile
            pass
    return settings, nodes
