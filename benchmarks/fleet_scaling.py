"""How a sweep scales over Ray nodes on this machine, and what the driver costs per point.

Runs the same sweep (sep_cnn bench points, one thread each) three ways, side by side:
  1. a local loop: each point's `run_point` called in this process, no Ray;
  2. a Ray cluster of 1 node (one measurement slot);
  3. the same cluster with a second node added (two slots).
and prints points per minute for 1 and 2 nodes and their ratio, and the driver's own overhead per
point: the Ray run's wall time per point minus the local loop's (scheduling, shipping, writing the
results file after every point). Each node here is this machine: two nodes share its cores, so the
ratio is what 2 slots give on one 2-core machine, not what two machines give.

    python benchmarks/fleet_scaling.py [--points 12] [-t 0.5]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from flopbench.fleet import MEASURE_SLOT  # noqa: E402
from flopbench.fleet.points import prepare_bench_points  # noqa: E402
from flopbench.fleet.sweep import fleet_sweep  # noqa: E402
from flopbench.zoo import write_zoo_model  # noqa: E402


def sweep_points(count: int, seconds: float) -> list[dict]:
    # distinct seeds make distinct points (each has its own key), all of the same work
    return [{"model": "sep_cnn.onnx", "engines": ["openvino"], "nthreads": 1, "seconds": seconds, "niter": 10, "warmup": 2,
             "seed": seed} for seed in range(count)]


def timed_sweep(points: list[dict], folder: Path, results: Path) -> tuple[float, float]:
    """(wall seconds, seconds spent inside the points on the nodes) of one Ray sweep."""
    start = time.perf_counter()
    result = fleet_sweep(points, results, base=folder)
    wall = time.perf_counter() - start
    if len(result.done) != len(points):
        raise SystemExit(f"only {len(result.done)} of {len(points)} points done: {[r.error for r in result.failed]}")
    inside = sum(r.seconds for r in result.done)
    return wall, inside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=12, help="points in the sweep (default 12)")
    parser.add_argument("-t", type=float, default=0.5, dest="seconds", help="measuring time of each point (default 0.5 s)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_zoo_model("sep_cnn", folder)
        points = sweep_points(args.points, args.seconds)

        runner = prepare_bench_points(points, folder)
        runner(points[0])  # warm the caches the Ray workers warm too (model unpacked, plugins loaded)
        start = time.perf_counter()
        for point in points:
            runner(point)
        local = time.perf_counter() - start

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {MEASURE_SLOT: 1}, "include_dashboard": False})
        try:
            ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
            fleet_sweep(points[:1], folder / "warm1.json", base=folder)  # start the node's worker once
            one_wall, one_inside = timed_sweep(points, folder, folder / "one.json")
            cluster.add_node(num_cpus=1, resources={MEASURE_SLOT: 1})
            cluster.wait_for_nodes()
            fleet_sweep([{**points[0], "seed": 10_000 + i} for i in range(2)], folder / "warm2.json", base=folder)
            two_wall, _ = timed_sweep(points, folder, folder / "two.json")
        finally:
            ray.shutdown()
            cluster.shutdown()

    n = len(points)
    rows = {"local loop": local, "Ray, 1 node": one_wall, "Ray, 2 nodes": two_wall}
    print(f"{n} points of sep_cnn on OpenVINO, 1 thread, -t {args.seconds} each; this machine: every node shares its cores")
    for name, wall in rows.items():
        print(f"  {name:<13} {wall:7.2f} s  {60 * n / wall:6.1f} points/min  {wall / n * 1e3:7.1f} ms/point")
    print(f"2 nodes / 1 node, points per minute: {one_wall / two_wall:.2f}")
    print(f"driver overhead per point (Ray 1 node - local loop): {(one_wall - local) / n * 1e3:.1f} ms "
          f"({one_wall / local:.3f}x the local loop); outside the points on the node: {(one_wall - one_inside) / n * 1e3:.1f} ms/point")
    print(json.dumps({"points": n, "seconds": args.seconds, "local_s": local, "one_node_s": one_wall, "two_nodes_s": two_wall}))


if __name__ == "__main__":
    main()
