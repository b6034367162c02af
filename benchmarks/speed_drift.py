"""How much this machine's speed drifts while one model runs: the ceiling of any latency prediction.

`bench` runs the model for SECONDS; its inferences are cut into consecutive windows of about
WINDOW_MS, and each window's median is set beside the whole run's median. On a machine of its own a
model's windows agree within a few percent; a virtual machine whose neighbours come and go runs in
phases, and the windows spread. A prediction can be no closer to one measured median than two
measurements of the same model are to each other: compare with predict_accuracy.py's figures.

    python benchmarks/speed_drift.py [MODEL ...] [--engine openvino|onnxruntime] [-t SECONDS] [--window-ms MS]

Without MODEL: the onnx package's light shufflenet and squeezenet, and the zoo's mobilenet_v1."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def windows_of(latencies_ns: np.ndarray, window_ms: float) -> list[float]:
    """Each window's median (µs), the windows cut where the running time passes each WINDOW_MS."""
    ends = np.cumsum(latencies_ns) / 1e6
    cut = np.floor(ends / window_ms).astype(int)
    return [float(np.median(latencies_ns[cut == index])) / 1e3 for index in np.unique(cut) if (cut == index).sum() >= 3]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--engine", default="openvino")
    parser.add_argument("-t", "--seconds", type=float, default=10.0)
    parser.add_argument("--window-ms", type=float, default=250.0)
    args = parser.parse_args()

    from flopbench.measure.bench import bench
    from flopbench.zoo import write_zoo_model

    print(f"load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="flopbench-drift-") as temp:
        models = args.models or [LIGHT / "light_shufflenet.onnx", LIGHT / "light_squeezenet.onnx",
                                 write_zoo_model("mobilenet_v1", Path(temp) / "mobilenet_v1", fmt="onnx").onnx]
        for model in models:
            result = bench(model, [args.engine], seconds=args.seconds).results[0]
            kind = "engine" if "engine" in result.latencies else "call"
            latencies = np.asarray(result.latencies[kind], dtype=np.int64)
            medians = windows_of(latencies, args.window_ms)
            whole = float(np.median(latencies)) / 1e3
            within = 100 * sum(abs(m / whole - 1) <= 0.10 for m in medians) / len(medians)
            print(f"{model.stem:24} median {whole:9.1f} µs over {len(latencies)} inferences; {len(medians)} windows of "
                  f"{args.window_ms:.0f} ms: medians {min(medians) / whole:4.2f}–{max(medians) / whole:4.2f} × the whole run's, "
                  f"{within:3.0f}% within ±10%", flush=True)
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
