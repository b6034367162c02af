"""What profiling costs, measured side by side: OpenVINO with and without PERF_COUNT, and
flopbench's profile harness against a bare OpenVINO loop doing the same thing.

Each round runs, alternating on the same model:
  bare_pc    a bare `request.infer()` loop on a model compiled with PERF_COUNT (mean InferRequest.latency)
  bare       the same loop compiled without PERF_COUNT
  flopbench  `flopbench.profile()`: its profiled end-to-end mean and its unprofiled mean

and prints, per round and as medians: the profiling overhead of the engine itself (bare_pc / bare),
and flopbench's own overhead (flopbench profiled / bare_pc, flopbench unprofiled / bare), which
should stay near 1.

    python benchmarks/profile_overhead.py [--rounds 5] [-niter 300] [--models sep_cnn,mobilenet_v1]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np


def bare_loop(model_path: Path, iterations: int, perf_count: bool) -> float:
    """Mean InferRequest.latency (µs) of a bare loop, f32, latency hint, after 10 warm-up runs."""
    import openvino as ov

    core = ov.Core()
    properties = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    if perf_count:
        properties["PERF_COUNT"] = True
    compiled = core.compile_model(core.read_model(str(model_path)), "CPU", properties)
    request = compiled.create_infer_request()
    for port in compiled.inputs:
        request.set_tensor(port, ov.Tensor(np.random.default_rng(0).standard_normal(list(port.shape)).astype(np.float32)))
    for _ in range(10):
        request.infer()
    latencies = []
    for _ in range(iterations):
        request.infer()
        latencies.append(request.latency)
    return 1e3 * float(np.mean(latencies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-niter", type=int, default=300)
    parser.add_argument("--models", default="sep_cnn,mobilenet_v1")
    args = parser.parse_args()

    from flopbench.profiling.machine import machine
    from flopbench.profiling.profile import profile
    from flopbench.zoo import write_zoo_model

    roof = machine("openvino", quick=True)  # the roofline plays no part in the timings
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            path = write_zoo_model(name, Path(folder) / name).xml
            rows = []
            for _ in range(args.rounds):
                bare_pc = bare_loop(path, args.niter, perf_count=True)
                bare = bare_loop(path, args.niter, perf_count=False)
                result = profile(path, iterations=args.niter, precision="f32", roofline=roof)
                rows.append((bare_pc, bare, result.end_to_end_us, result.unprofiled_end_to_end_us, result.layers_us))
                print(f"{name}: bare PERF_COUNT {bare_pc:8.1f} µs, bare {bare:8.1f} µs, flopbench profiled "
                      f"{result.end_to_end_us:8.1f} µs (layers {result.layers_us:.1f}), unprofiled {result.unprofiled_end_to_end_us:8.1f} µs")
            median = lambda values: statistics.median(values)  # noqa: E731
            engine_overhead = [pc / plain for pc, plain, *_ in rows]
            harness_profiled = [ours / pc for pc, _, ours, _, _ in rows]
            harness_plain = [ours / plain for _, plain, _, ours, _ in rows]
            print(f"{name}: engine profiling overhead (PERF_COUNT / none) median {median(engine_overhead):.3f} "
                  f"(rounds {min(engine_overhead):.2f}–{max(engine_overhead):.2f})")
            print(f"{name}: flopbench profiled / bare PERF_COUNT loop median {median(harness_profiled):.3f} "
                  f"(rounds {min(harness_profiled):.2f}–{max(harness_profiled):.2f})")
            print(f"{name}: flopbench unprofiled / bare loop median {median(harness_plain):.3f} "
                  f"(rounds {min(harness_plain):.2f}–{max(harness_plain):.2f})")


if __name__ == "__main__":
    main()
