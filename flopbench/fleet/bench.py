"""`fleet_bench`: the same benchmark on every node of the cluster, one result per node."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from ..measure.engines import EngineConfig, get_engine
from ..measure.inputs import expand_specs, input_paths, prepare_inputs
from ..measure.policy import RunPolicy
from ..model.reading import source_files
from ..model.shapes import check_batch, normalize_shape_spec
from ..results.metadata import result_metadata
from .cluster import connected, require_nodes
from .points import BenchPoints, pack_inputs
from .records import FleetLog, FleetResult
from .scheduler import SweepProgress, run_points
from .shipping import pack_model


def bench_settings(engines: Sequence[str], config: EngineConfig, policy: RunPolicy, shape: str | None, batch: int | None,
                   seed: int, inputs: Sequence[str] | None = None) -> dict[str, Any]:
    """A bench point's settings (the fields of `points.BENCH_FIELDS` but the model)."""
    return {"engines": list(engines), **({"inputs": list(inputs)} if inputs else {}), "device": config.device, "hint": config.hint, "nireq": config.nireq,
            "nstreams": config.nstreams, "nthreads": config.nthreads, "precision": config.precision, "batch": batch,
            "shape": shape, "seconds": policy.min_duration_s, "niter": policy.min_iterations, "warmup": policy.warmup_iterations,
            "max_duration": policy.max_duration_s, "seed": seed}


def fleet_bench(models: Sequence[str | os.PathLike], *, address: str | None = None, resource: str | None = None,
                engines: Sequence[str] = ("openvino",), config: EngineConfig | None = None, policy: RunPolicy | None = None,
                shape: str | None = None, batch: int | None = None, seed: int = 0, inputs: Sequence[str] | None = None,
                results_path: str | os.PathLike | None = None,
                progress: Callable[[SweepProgress], None] | None = None) -> FleetResult:
    """Benchmark every model on every node with a measurement slot (and `resource`, when named),
    one measurement per node at a time; each node's result carries its node_id, its own machine
    metadata and its roofline per engine (cached on the node, else measured quick there). `inputs`
    (-i specs) travel to the nodes by content, as the models do. Without `address`, a local Ray is
    started for the run (this machine, one slot)."""
    config = config or EngineConfig()
    policy = policy or RunPolicy()
    runtimes = [get_engine(name) for name in engines]
    config.validate()
    policy.validate()
    packages = {}
    inputs = expand_specs([os.fspath(spec) for spec in inputs or []])
    for model in models:  # read here first: a bad model or input fails before the cluster is asked for anything
        for runtime in runtimes:  # each engine reads the model its own way (ONNX Runtime never needs OpenVINO)
            runtime.check_model(str(model))
            described = runtime.read_inputs(str(model), normalize_shape_spec(shape), check_batch(batch))
            prepare_inputs(described, inputs, seed)
        packages[str(model)] = pack_model(model)
    shipped = pack_inputs(inputs)
    settings = bench_settings(engines, config, policy, shape, batch, seed, inputs)
    metadata = {**result_metadata(), "models": list(packages), "settings": settings}
    protect = [f for model in models for f in source_files(model)] + input_paths(inputs)
    log = FleetLog.open("bench", metadata, results_path, protect=protect)
    with connected(address) as where:
        log.metadata["address"] = where
        nodes = require_nodes(resource)
        points = [{"model": name, **settings, "node_id": node.node_id} for node in nodes for name in packages]
        # a node's result is that node's: a point that its node cannot finish is failed, not moved
        return run_points(points, BenchPoints(packages=packages, inputs=shipped), log, resource=resource, retries=0, any_machine=True,
                          progress=progress)
