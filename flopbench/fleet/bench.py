"""`fleet_bench`: the same benchmark on every node of the cluster, one result per node."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from ..measure.engines import DEFAULT_ENGINE, EngineConfig, get_engine
from ..measure.policy import RunPolicy
from .every_node import pack_for_nodes, run_on_every_node
from .points import BenchPoints
from .records import FleetResult
from .scheduler import SweepProgress


def bench_settings(engines: Sequence[str], config: EngineConfig, policy: RunPolicy, shape: str | None, batch: int | None,
                   seed: int, inputs: Sequence[str] | None = None) -> dict[str, Any]:
    """A bench point's settings (the fields of `points.BENCH_FIELDS` but the model)."""
    return {"engines": list(engines), **({"inputs": list(inputs)} if inputs else {}), "device": config.device, "hint": config.hint, "nireq": config.nireq,
            "nstreams": config.nstreams, "nthreads": config.nthreads, "precision": config.precision, "batch": batch,
            "shape": shape, "seconds": policy.min_duration_s, "niter": policy.min_iterations, "warmup": policy.warmup_iterations,
            "max_duration": policy.max_duration_s, "seed": seed}


def fleet_bench(models: Sequence[str | os.PathLike], *, address: str | None = None, resource: str | None = None,
                engines: Sequence[str] = (DEFAULT_ENGINE,), config: EngineConfig | None = None, policy: RunPolicy | None = None,
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
    shipment = pack_for_nodes(models, runtimes, shape, batch, seed, inputs)
    settings = bench_settings(engines, config, policy, shape, batch, seed, shipment.input_specs)
    runner = BenchPoints(packages=shipment.models, inputs=shipment.inputs)
    return run_on_every_node("bench", shipment, [settings], settings, runner, address=address, resource=resource,
                             results_path=results_path, progress=progress)
