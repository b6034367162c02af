"""How long `flopbench predict` takes beside counting the same model, calibration cached.

`predict` reads, counts and compiles the model (the compiled graph says what the engine fused and
which kernels it picked) and runs nothing; the target is at most 2× the time of counting it
(`flopbench.count`). Each side runs once to warm up (the first OpenVINO read of an ONNX file loads
its frontend; the first predict of a file compiles it, and keeps its compiled graph in the cache:
that first time is shown apart), then `--rounds` rounds alternating the two; medians are compared,
model by model.
Calibrate first (`flopbench predict --calibrate --engine …`); the timings are the machine's: run it
with nothing else running.

    python benchmarks/predict_time.py [--engine openvino|onnxruntime] [--precision f32] [--rounds 5] [--only resnet50,std_cnn]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="openvino")
    parser.add_argument("--precision")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", help="comma-separated labels to keep (e.g. std_cnn,resnet50)")
    args = parser.parse_args()

    import flopbench
    from flopbench.errors import FlopbenchError
    from flopbench.profiling.calibration import cached_calibration
    from flopbench.profiling.predict import predict
    from predict_accuracy import validation_models

    try:
        calibration = cached_calibration(args.engine, precision=args.precision)
    except FlopbenchError as exc:
        print(f"predict_time: {exc}", file=sys.stderr)
        return 2
    keep = set(args.only.split(",")) if args.only else None
    ratios = []
    print(f"{'model':28} {'count s':>9} {'predict s':>10} {'predict / count':>16} {'first predict s (compiles)':>27}")
    with tempfile.TemporaryDirectory(prefix="flopbench-predict-time-") as temp:
        for label, path in validation_models(Path(temp)):
            if keep is not None and label not in keep:
                continue
            sides = {"count": lambda: flopbench.count(path),
                     "predict": lambda: predict(path, engine=args.engine, precision=args.precision, calibration=calibration)}
            times: dict[str, list[float]] = {name: [] for name in sides}
            first = {name: timed(side) for name, side in sides.items()}  # warm-up
            for round_ in range(args.rounds):
                for name in (list(sides) if round_ % 2 == 0 else list(sides)[::-1]):
                    times[name].append(timed(sides[name]))
            count_s, predict_s = statistics.median(times["count"]), statistics.median(times["predict"])
            ratios.append(predict_s / count_s)
            print(f"{label:28} {count_s:9.3f} {predict_s:10.3f} {predict_s / count_s:15.2f}× {first['predict']:27.3f}", flush=True)
    if ratios:
        print(f"\n{args.engine}: predict / count median {statistics.median(ratios):.2f}×, worst {max(ratios):.2f}× "
              f"over {len(ratios)} models (target ≤ 2×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
