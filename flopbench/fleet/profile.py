"""`fleet_profile`: `flopbench profile` on every node of the cluster, one result per node and
engine, each on that node's own roofline."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..measure.engines import get_engine
from ..measure.inputs import expand_specs, input_paths, prepare_inputs
from ..model.reading import source_files
from ..model.shapes import check_batch, normalize_shape_spec
from ..profiling.profile import DEFAULT_ITERATIONS, check_settings
from ..results.metadata import result_metadata
from .cluster import connected, current_node_id, require_nodes
from .points import node_inputs, pack_inputs
from .records import FleetLog, FleetResult
from .scheduler import SweepProgress, run_points
from .shipping import ModelPackage, pack_model, unpack_model


@dataclass(frozen=True)
class ProfilePoints:
    """Profiles a model on a node, on the node's roofline (cached there, else measured quick while
    the point holds the node's measurement slot); carries models and inputs by content."""

    packages: dict[str, ModelPackage]
    inputs: dict[str, tuple[str, ModelPackage]] = field(default_factory=dict)
    measures: bool = True

    def __call__(self, point: dict[str, Any]) -> dict[str, Any]:
        from ..profiling.profile import profile
        from .roofline import node_roofline

        path = unpack_model(self.packages[point["model"]])
        roof, source = node_roofline(point["engine"], point["device"])
        result = profile(path, engine=point["engine"], device=point["device"], precision=point["precision"],
                         iterations=point["iterations"], warmup=point["warmup"], shape=point["shape"], batch=point["batch"],
                         inputs=node_inputs(point.get("inputs"), self.inputs), seed=point["seed"], roofline=roof)
        document = result.to_dict()
        document["model"] = point["model"]  # the name the user gave, not the node's temporary copy
        document["metadata"].update({"model": point["model"], "node_id": current_node_id(), "roofline_source": source})
        return document


def profile_settings(engine: str, device: str, precision: str | None, iterations: int, warmup: int, shape: str | None,
                     batch: int | None, seed: int, inputs: Sequence[str]) -> dict[str, Any]:
    return {"engine": engine, "device": device, "precision": precision, "iterations": iterations, "warmup": warmup,
            "shape": shape, "batch": batch, "seed": seed, **({"inputs": list(inputs)} if inputs else {})}


def fleet_profile(models: Sequence[str | os.PathLike], *, address: str | None = None, resource: str | None = None,
                  engines: Sequence[str] = ("openvino",), device: str = "CPU", precision: str | None = None,
                  iterations: int = DEFAULT_ITERATIONS, warmup: int = 10, shape: str | None = None, batch: int | None = None,
                  seed: int = 0, inputs: Sequence[str] | None = None, results_path: str | os.PathLike | None = None,
                  progress: Callable[[SweepProgress], None] | None = None) -> FleetResult:
    """Profile every model with every engine on every node with a measurement slot (and
    `resource`, when named), one measurement per node at a time: per node and engine, each layer's
    time against that node's own measured roofline, with its node_id and machine metadata."""
    runtimes = [get_engine(name) for name in engines]
    for runtime in runtimes:
        check_settings(runtime.name, device, precision, iterations, warmup)
    inputs = expand_specs([os.fspath(spec) for spec in inputs or []])
    packages = {}
    for model in models:  # read here first: a bad model or input fails before the cluster is asked for anything
        for runtime in runtimes:
            runtime.check_model(str(model))
            prepare_inputs(runtime.read_inputs(str(model), normalize_shape_spec(shape), check_batch(batch)), inputs, seed)
        packages[str(model)] = pack_model(model)
    shipped = pack_inputs(inputs)
    settings = [profile_settings(runtime.name, device, precision, iterations, warmup, shape, batch, seed, inputs)
                for runtime in runtimes]
    metadata = {**result_metadata(), "models": list(packages), "settings": settings}
    protect = [f for model in models for f in source_files(model)] + input_paths(inputs)
    log = FleetLog.open("profile", metadata, results_path, protect=protect)
    with connected(address) as where:
        log.metadata["address"] = where
        nodes = require_nodes(resource)
        points = [{"model": name, **each, "node_id": node.node_id} for node in nodes for name in packages for each in settings]
        # a node's result is that node's: a point that its node cannot finish is failed, not moved
        return run_points(points, ProfilePoints(packages=packages, inputs=shipped), log, resource=resource, retries=0,
                          any_machine=True, progress=progress)
