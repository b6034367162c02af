"""What `fleet bench` and `fleet profile` share: the models and `-i` files checked and packed on the
driver (a bad model or input fails before the cluster is asked for anything), then one point per
node and model, each kept on its node, gathered into one results file."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..measure.inputs import expand_specs, input_paths, prepare_inputs
from ..model.reading import source_files
from ..model.shapes import check_batch, normalize_shape_spec
from ..results.metadata import result_metadata
from .cluster import connected, require_nodes
from .points import pack_inputs
from .records import FleetLog, FleetResult
from .scheduler import SweepProgress, run_points
from .shipping import ModelPackage, pack_model


@dataclass(frozen=True)
class Shipment:
    """The models and inputs by content, as the nodes receive them, and the driver's files they came from."""

    models: dict[str, ModelPackage]
    inputs: dict[str, tuple[str, ModelPackage]]
    input_specs: list[str]
    sources: list[str]  # never overwritten by the results file


def pack_for_nodes(models: Sequence[str | os.PathLike], runtimes: Sequence[Any], shape: str | None, batch: int | None,
                   seed: int, inputs: Sequence[str | os.PathLike] | None) -> Shipment:
    """Each engine reads each model its own way (ONNX Runtime never needs OpenVINO) and fits the
    inputs to it here, before anything is sent."""
    specs = expand_specs([os.fspath(spec) for spec in inputs or []])
    packages = {}
    for model in models:
        for runtime in runtimes:
            runtime.check_model(str(model))
            prepare_inputs(runtime.read_inputs(str(model), normalize_shape_spec(shape), check_batch(batch)), specs, seed)
        packages[str(model)] = pack_model(model)
    sources = [f for model in models for f in source_files(model)] + input_paths(specs)
    return Shipment(models=packages, inputs=pack_inputs(specs), input_specs=specs, sources=sources)


def run_on_every_node(kind: str, shipment: Shipment, settings: Sequence[dict[str, Any]], recorded_settings: Any,
                      runner: Callable[[dict[str, Any]], Any], *, address: str | None, resource: str | None,
                      results_path: str | os.PathLike | None, progress: Callable[[SweepProgress], None] | None) -> FleetResult:
    """Every model with each of `settings` on every node with a measurement slot (and `resource`);
    `recorded_settings` is what the results file's metadata says was asked."""
    metadata = {**result_metadata(), "models": list(shipment.models), "settings": recorded_settings}
    log = FleetLog.open(kind, metadata, results_path, protect=shipment.sources)
    with connected(address) as where:
        log.metadata["address"] = where
        nodes = require_nodes(resource)
        points = [{"model": name, **each, "node_id": node.node_id}
                  for node in nodes for name in shipment.models for each in settings]
        # a node's result is that node's: a point that its node cannot finish is failed, not moved
        return run_points(points, runner, log, resource=resource, retries=0, any_machine=True, progress=progress)
