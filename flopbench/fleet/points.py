"""Sweep points as plain data, and the bench point: one `bench` of one model with one set of settings.

A point is a dict; its key is its "key" field when it has one, else a hash of its content, so the
same point has the same key in every run (that is how a re-run skips what is done). A point with a
"node_id" runs on that node only (a fleet benchmark measures each node).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import OptionError, one_line
from .cluster import current_node_id
from .shipping import ModelPackage, pack_input, pack_model, point_folder, unpack_input, unpack_model

# a bench point's fields: the `flopbench bench` flags, by their long names
BENCH_FIELDS = {"model": str, "engines": list, "device": str, "hint": str, "nireq": int, "nstreams": int, "nthreads": int,
                "precision": str, "batch": int, "shape": str, "seconds": (int, float), "niter": int, "warmup": int,
                "max_duration": (int, float), "seed": int, "inputs": list}
PLACEMENT_FIELDS = ("key", "node_id")


def point_key(point: dict[str, Any]) -> str:
    key = point.get("key")
    if isinstance(key, str) and key:
        return key
    canonical = json.dumps(point, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def check_bench_point(point: Any, where: str = "a point") -> dict[str, Any]:
    """The point, with its engines as a list; a field that is unknown or of the wrong type is an error."""
    if not isinstance(point, dict):
        raise OptionError(f"{where} is not an object", 'write each point as {"model": "m.onnx", "engines": ["ENGINE"], ...}')
    if not isinstance(point.get("model"), str) or not point["model"]:
        raise OptionError(f"{where} names no model", 'give each point a "model": "path/to/model.onnx"')
    for name, value in point.items():
        if name in PLACEMENT_FIELDS:
            continue
        expected = BENCH_FIELDS.get(name)
        if expected is None:
            raise OptionError(f"{where} has an unknown field {one_line(repr(name), 80)}", f"use only: {', '.join([*BENCH_FIELDS, *PLACEMENT_FIELDS])}")
        if name == "engines" and (isinstance(value, str) or isinstance(value, list) and all(isinstance(e, str) for e in value)):
            continue
        if value is not None and (not isinstance(value, expected) or isinstance(value, bool) or name == "engines"):
            raise OptionError(f"{where}: {name} {one_line(repr(value), 80)} has the wrong type", f"give {name} as {getattr(expected, '__name__', 'a number')}")
    return point


def bench_arguments(point: dict[str, Any], model_path: str | os.PathLike) -> dict[str, Any]:
    """The keyword arguments of `measure.bench.bench` for a bench point."""
    from ..measure.engines import DEFAULT_ENGINE, EngineConfig
    from ..measure.policy import RunPolicy

    engines = point.get("engines") or [DEFAULT_ENGINE]
    if isinstance(engines, str):
        engines = [e.strip() for e in engines.split(",") if e.strip()]
    config = EngineConfig(device=point.get("device") or "CPU", hint=point.get("hint") or "latency", nstreams=point.get("nstreams"),
                          nthreads=point.get("nthreads"), nireq=point.get("nireq"), precision=point.get("precision"))
    defaults = RunPolicy()
    policy = RunPolicy(warmup_iterations=point.get("warmup", defaults.warmup_iterations),
                       min_duration_s=float(point.get("seconds", defaults.min_duration_s)),
                       min_iterations=point.get("niter", defaults.min_iterations), max_duration_s=point.get("max_duration"))
    return {"model": model_path, "engines": tuple(engines), "config": config, "policy": policy, "shape": point.get("shape"),
            "batch": point.get("batch"), "seed": point.get("seed", 0), "inputs": point.get("inputs") or None}


def pack_inputs(specs: list[str] | None, base: str | os.PathLike = ".") -> dict[str, tuple[str, ModelPackage]]:
    """The `-i` files of a point by content, keyed by the spec as given (paths relative to `base`)."""
    from ..measure.inputs import expand_specs, input_paths

    packed = {}
    for spec in expand_specs(list(specs or [])):
        path = input_paths([spec])[0]
        name = spec[: -len(path) - 1] if spec != path else ""
        packed[spec] = (name, pack_input(Path(base) / path))
    return packed


def node_inputs(specs: list[str] | None, packed: dict[str, tuple[str, ModelPackage]], folder: str | os.PathLike) -> list[str] | None:
    """The point's `-i` specs as files on this node, written into the point's `folder`."""
    from ..measure.inputs import expand_specs

    if not specs:
        return None
    return [unpack_input(*packed[spec], folder) for spec in expand_specs(list(specs))]


def as_given(text: str, node_specs: list[str] | None, specs: list[str] | None) -> str:
    """A result's input description with the node's temporary copies (gone once the point ends)
    named as the user gave them."""
    from ..measure.inputs import expand_specs

    for node_spec, spec in zip(node_specs or [], expand_specs(list(specs or []))):
        text = text.replace(node_spec, spec)
    return text


@dataclass(frozen=True)
class BenchPoints:
    """Runs bench points on a node; carries the models by content, so it is sent once per node."""

    packages: dict[str, ModelPackage]
    inputs: dict[str, tuple[str, ModelPackage]] = field(default_factory=dict)  # -i spec -> (input name, file)
    measures: bool = True  # takes the node's measurement slot

    def __call__(self, point: dict[str, Any]) -> dict[str, Any]:
        from ..measure.bench import bench
        from .roofline import roofline_entries

        with point_folder() as folder:
            path = unpack_model(self.packages[point["model"]], folder)
            arguments = bench_arguments(point, path)
            given = arguments["inputs"]
            arguments["inputs"] = node_inputs(given, self.inputs, folder)
            report = bench(**arguments)
        document = report.to_dict()
        for record in document["results"]:
            record["inputs"] = as_given(record["inputs"], arguments["inputs"], given)
        document["metadata"]["model"] = point["model"]  # the name the user gave, not the node's temporary copy
        document["metadata"]["node_id"] = current_node_id()
        if not report.interrupted:  # the node's roofline, reused from its cache or measured quick once
            document["metadata"]["rooflines"] = roofline_entries(list(arguments["engines"]), arguments["config"].device)
        return document


def check_bench_settings(point: dict[str, Any]) -> None:
    """Validate a point's settings on the driver, before anything is sent to a node."""
    from ..measure.engines import get_engine

    arguments = bench_arguments(point, point["model"])  # its EngineConfig and RunPolicy check themselves when made
    for name in arguments["engines"]:
        get_engine(name).check_model(point["model"])  # by its name: a .xml is no file for ONNX Runtime


def prepare_bench_points(points: list[dict[str, Any]], base: str | os.PathLike = ".") -> BenchPoints:
    """Check every point and read every model it names (once each), on the driver: a typo fails in
    seconds, before the cluster is asked for anything."""
    from ..measure.engines import get_engine
    from ..model.shapes import check_batch, normalize_shape_spec

    packages: dict[str, ModelPackage] = {}
    inputs: dict[str, tuple[str, ModelPackage]] = {}
    for index, point in enumerate(points):
        check_bench_point(point, f"point {index + 1}")
        check_bench_settings(point)
        name = point["model"]
        if name not in packages:
            path = Path(base) / name
            engines = bench_arguments(point, path)["engines"]
            get_engine(engines[0]).read_inputs(str(path), normalize_shape_spec(point.get("shape")), check_batch(point.get("batch")))
            packages[name] = pack_model(path)
        inputs.update(pack_inputs(point.get("inputs"), base))
    return BenchPoints(packages=packages, inputs=inputs)


def read_points_file(path: str | os.PathLike) -> list[dict[str, Any]]:
    """A points file: a JSON list of points, or {"points": [...]}."""
    from ..results.documents import MAX_POINTS_FILE_BYTES, read_json

    file = Path(path)
    document = read_json(file, "points file", OptionError, limit=MAX_POINTS_FILE_BYTES,
                         fix='write a JSON list of points: [{"model": "m.onnx"}, ...] (split a larger sweep into several files)')
    points = document.get("points") if isinstance(document, dict) else document
    if not isinstance(points, list) or not points:
        raise OptionError(f"points file {file.name} holds no list of points", 'write a JSON list of points: [{"model": "m.onnx"}, ...]')
    return points
