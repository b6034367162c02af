"""`fleet_profile`: `flopbench profile` on every node of the cluster, one result per node and
engine, each on that node's own roofline."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..measure.engines import DEFAULT_ENGINE, EngineConfig, get_engine
from ..profiling.profile import DEFAULT_ITERATIONS, check_settings
from .cluster import current_node_id
from .every_node import pack_for_nodes, run_on_every_node
from .points import as_given, node_inputs
from .records import FleetResult
from .scheduler import SweepProgress
from .shipping import ModelPackage, point_folder, unpack_model


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

        roof, source = node_roofline(point["engine"], point["device"])
        with point_folder() as folder:
            path = unpack_model(self.packages[point["model"]], folder)
            shipped = node_inputs(point.get("inputs"), self.inputs, folder)
            result = profile(path, engine=point["engine"], device=point["device"], precision=point["precision"],
                             iterations=point["iterations"], warmup=point["warmup"], shape=point["shape"], batch=point["batch"],
                             inputs=shipped, seed=point["seed"], roofline=roof)
        document = result.to_dict()
        document["model"] = point["model"]  # the name the user gave, not the node's temporary copy
        document["metadata"].update({"model": point["model"], "node_id": current_node_id(), "roofline_source": source,
                                     "input_data": as_given(document["metadata"]["input_data"], shipped, point.get("inputs"))})
        return document


def profile_settings(engine: str, device: str, precision: str | None, iterations: int, warmup: int, shape: str | None,
                     batch: int | None, seed: int, inputs: Sequence[str]) -> dict[str, Any]:
    return {"engine": engine, "device": device, "precision": precision, "iterations": iterations, "warmup": warmup,
            "shape": shape, "batch": batch, "seed": seed, **({"inputs": list(inputs)} if inputs else {})}


def fleet_profile(models: Sequence[str | os.PathLike], *, address: str | None = None, resource: str | None = None,
                  engines: Sequence[str] = (DEFAULT_ENGINE,), device: str = "CPU", precision: str | None = None,
                  iterations: int = DEFAULT_ITERATIONS, warmup: int = 10, shape: str | None = None, batch: int | None = None,
                  seed: int = 0, inputs: Sequence[str] | None = None, results_path: str | os.PathLike | None = None,
                  progress: Callable[[SweepProgress], None] | None = None) -> FleetResult:
    """Profile every model with every engine on every node with a measurement slot (and
    `resource`, when named), one measurement per node at a time: per node and engine, each layer's
    time against that node's own measured roofline, with its node_id and machine metadata."""
    runtimes = [get_engine(name) for name in engines]
    config = EngineConfig(device=device, precision=precision)
    for runtime in runtimes:
        check_settings(runtime.name, config, iterations, warmup)
    shipment = pack_for_nodes(models, runtimes, shape, batch, seed, inputs)
    settings = [profile_settings(runtime.name, device, precision, iterations, warmup, shape, batch, seed, shipment.input_specs)
                for runtime in runtimes]
    runner = ProfilePoints(packages=shipment.models, inputs=shipment.inputs)
    return run_on_every_node("profile", shipment, settings, settings, runner, address=address, resource=resource,
                             results_path=results_path, progress=progress)
