#!/usr/bin/env python
"""flopbench's LiteRT harness vs a bare `Interpreter.invoke()` loop: prints RATIOS, never absolute
times as results.

LiteRT measures no latency of its own, so flopbench's figure for it is the call latency: the clock
read around each `invoke()` by the run policy. This measures what that harness adds. For each zoo
model (written as .tflite by `flopbench zoo --format tflite`), every round runs, in this one process,

* bare:      an Interpreter made as LiteRT's docs make one (same model, same -nthreads, XNNPACK),
             the input set once, then `invoke()` timed with perf_counter_ns around each call;
* flopbench: `flopbench.bench(model, engines=("litert",), ...)` with the same threads and duration,
             its call-latency median;

in alternating order (ABBA...), so a drift of the machine's speed favours neither, and takes

    flopbench call-latency median / bare median                      (target <= 1.02)

It prints the median ratio over the rounds, the spread (min..max) and how many rounds met the
target. It reports; it is not a test: the exit status is 0 unless the arguments are wrong.

    python benchmarks/vs_litert_invoke.py                         # sep_cnn + mobilenet_v1, -t 3, 5 rounds
    python benchmarks/vs_litert_invoke.py -t 1 --rounds 3 --models sep_cnn -nthreads 1
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGET = 1.02  # flopbench call-latency median / bare invoke() median: at most this
WARMUP = 5


def bare_median_ns(model: Path, threads: int, seconds: float) -> float:
    """Median of invoke() timed one by one for about `seconds`, after WARMUP calls."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model), num_threads=threads)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        data = np.random.default_rng(0).standard_normal(detail["shape"]).astype(detail["dtype"])
        interpreter.set_tensor(detail["index"], data)
    invoke, clock = interpreter.invoke, time.perf_counter_ns
    for _ in range(WARMUP):
        invoke()
    times: list[int] = []
    stop = clock() + int(seconds * 1e9)
    while clock() < stop:
        start = clock()
        invoke()
        times.append(clock() - start)
    return float(np.median(times))


def flopbench_median_ns(model: Path, threads: int, seconds: float) -> float:
    from flopbench.measure.bench import bench
    from flopbench.measure.engines import EngineConfig
    from flopbench.measure.policy import RunPolicy

    report = bench(model, engines=("litert",), config=EngineConfig(nthreads=threads),
                   policy=RunPolicy(warmup_iterations=WARMUP, min_duration_s=seconds, min_iterations=1))
    return float(report.results[0].call_latency.median_ns)


def compare(model: Path, threads: int, seconds: float, rounds: int) -> list[float]:
    ratios = []
    for index in range(rounds):
        order = (bare_median_ns, flopbench_median_ns) if index % 2 == 0 else (flopbench_median_ns, bare_median_ns)
        medians = {measure.__name__: measure(model, threads, seconds) for measure in order}
        ratios.append(medians["flopbench_median_ns"] / medians["bare_median_ns"])
        print(f"  round {index + 1}: ratio {ratios[-1]:.3f}", flush=True)
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="sep_cnn,mobilenet_v1", help="zoo models, comma-separated")
    parser.add_argument("-t", "--time", type=float, default=3.0, dest="seconds", help="seconds per measurement (default 3)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per model (default 5)")
    parser.add_argument("-nthreads", "--nthreads", type=int, default=1, help="threads of both interpreters (default 1)")
    parser.add_argument("--dir", help="folder for the .tflite files (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.seconds <= 0 or args.nthreads < 1:
        parser.error("--rounds, -t and -nthreads must be positive")
    from flopbench import zoo

    with tempfile.TemporaryDirectory(prefix="vs-litert-") as temp:
        folder = Path(args.dir or temp)
        folder.mkdir(parents=True, exist_ok=True)
        for name in (m.strip() for m in args.models.split(",") if m.strip()):
            model = zoo.write_zoo_model(name, folder, fmt="tflite").tflite
            print(f"{name}: {args.rounds} rounds of {args.seconds:g} s, {args.nthreads} thread(s)", flush=True)
            ratios = compare(model, args.nthreads, args.seconds, args.rounds)
            met = sum(r <= TARGET for r in ratios)
            print(f"{name}: flopbench / bare invoke() median ratio {statistics.median(ratios):.3f} "
                  f"(min {min(ratios):.3f}, max {max(ratios):.3f}); {met} of {len(ratios)} rounds <= {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
