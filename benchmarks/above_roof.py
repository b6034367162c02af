"""How many profiled layers run faster than the roof of the memory level they were placed on.

A layer above its roof means the model of the machine (its levels' bandwidths, the level chosen) or
the join (the bytes and time a fused node's layers were given) is wrong: the issue's bar is at most
2% of the profiled layers, per engine. Profiles the light models the `onnx` package ships (resnet50,
densenet121, inception_v1, shufflenet, squeezenet) and the zoo's mobilenet_v1 on each engine, and
prints per engine the share above the roof, then each such layer with what placed it there: its
level and working set, the bytes it moved as executed beside the count's, the engine nodes that ran
it and the layers fused with it.

A layer counts when its time is long enough to rate (GFLOP/s known); a separable layer counts as
its two parts. "Above" is above the attainable GFLOP/s by more than profile's own tolerance (5%).
Uses the cached roofline of each engine (else measures one, which takes minutes; `--quick` measures
the quick one). Say the load beside the figures: a busy machine makes layers slower, never faster.

    python benchmarks/above_roof.py [--engine openvino,onnxruntime] [--only resnet50,mobilenet_v1] [-niter 30] [--quick]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import onnx

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
LIGHT_MODELS = ("resnet50", "densenet121", "inception_v1", "shufflenet", "squeezenet")
ENGINES = ("openvino", "onnxruntime")


def models(folder: Path) -> list[tuple[str, Path]]:
    from flopbench.zoo import write_zoo_model

    found = [(name, LIGHT / f"light_{name}.onnx") for name in LIGHT_MODELS if (LIGHT / f"light_{name}.onnx").exists()]
    found.append(("mobilenet_v1", write_zoo_model("mobilenet_v1", folder / "mobilenet_v1", fmt="onnx").onnx))
    return found


def rated_rows(result):
    """The rows a roofline rates: each layer (a separable one as its parts) with a GFLOP/s."""
    for row in result.layers:
        for each in (row.parts or (row,)):
            if each.gflops_per_s is not None and each.percent_of_attainable is not None:
                yield row, each


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default=",".join(ENGINES), help="comma-separated engines (default both)")
    parser.add_argument("--only", help="comma-separated model names to keep (e.g. resnet50,mobilenet_v1)")
    parser.add_argument("-niter", "--niter", type=int, default=30, help="profiled inferences per model (default 30)")
    parser.add_argument("--quick", action="store_true", help="measure the quick roofline when none is cached")
    parser.add_argument("--limit", type=float, default=1.05, help="above the attainable by more than this factor (default 1.05)")
    args = parser.parse_args()

    from flopbench.profiling.profile import profile
    from flopbench.profiling.roofline import cached_roofline, roofline

    engines = [e.strip() for e in args.engine.split(",") if e.strip()]
    only = {n.strip() for n in args.only.split(",")} if args.only else None
    print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="flopbench-above-roof-") as temp:
        chosen = [(name, path) for name, path in models(Path(temp)) if only is None or name in only]
        for engine in engines:
            roof = cached_roofline(engine) or roofline(engine, quick=args.quick)
            print(f"\n{engine}: roofline measured {roof.measured_at}{' (quick)' if roof.quick else ''}; levels "
                  + ", ".join(f"{level.name} {level.bandwidth_gb_per_s:,.1f} GB/s " + (f"up to {level.holds_to_bytes:,} B" if level.holds_to_bytes else "beyond")
                              for level in roof.memory_levels()), flush=True)
            total = above = 0
            for name, path in chosen:
                result = profile(path, engine=engine, precision="f32" if engine == "openvino" else None,
                                 iterations=args.niter, warmup=5, roofline=roof)
                rated = list(rated_rows(result))
                over = [(row, each) for row, each in rated if each.percent_of_attainable > 100 * args.limit]
                total += len(rated)
                above += len(over)
                print(f"  {name}: {len(over)} of {len(rated)} rated layers above their roof", flush=True)
                for row, each in over:
                    fused = f" fused with {', '.join(row.fused)}" if row.fused else (f" ran in {row.fused_into}'s node" if row.fused_into else "")
                    executed = f"{each.executed_bytes:,}" if each.executed_bytes is not None else "not reported"
                    print(f"    {each.name} ({each.type}): {each.percent_of_attainable:,.0f}% of {each.attainable_gflops_per_s:,.1f} GFLOP/s, "
                          f"{each.time_us:,.1f} µs, bound {each.bound}, level {each.level}, working set {each.working_set_bytes or 0:,} B, "
                          f"bytes executed {executed} / counted {each.bytes:,}, intensity {each.intensity or 0:,.2f}, "
                          f"kernel {each.kernel}{fused}", flush=True)
            share = 100 * above / total if total else 0.0
            print(f"{engine}: {above} of {total} rated layers ({share:.1f}%) above the roof of their level", flush=True)
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
