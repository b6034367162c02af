"""Two ONNX Runtime sessions taking turns in one process, as profile (profiled and unprofiled),
the study (standard and separable) and the roofline (two chains) run them: how much the idle
session's spinning threads slow the one being timed, with ONNX Runtime's default and with
`session.force_spinning_stop` (what flopbench compiles such sessions with: EngineConfig.alternating).

Per model it prints the median latency of one session alone, then of two sessions in alternating
blocks of 5 runs, each way, and the ratio to the session alone. Run it on a quiet machine.

    python benchmarks/ort_sessions_taking_turns.py [--models mobilenet_v1,sep_cnn] [--blocks 20]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def session(path: str, stop_spinning: bool):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if stop_spinning:
        options.add_session_config_entry("session.force_spinning_stop", "1")
    made = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    port = made.get_inputs()[0]
    feed = {port.name: np.random.default_rng(0).standard_normal([d if isinstance(d, int) else 1 for d in port.shape]).astype(np.float32)}
    for _ in range(10):
        made.run(None, feed)
    return made, feed


def timed(made, feed, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        made.run(None, feed)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="mobilenet_v1,sep_cnn")
    parser.add_argument("--blocks", type=int, default=20)
    args = parser.parse_args()
    from flopbench.zoo import write_zoo_model

    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            path = str(write_zoo_model(name, Path(folder) / name, fmt="onnx").onnx)
            alone_session = session(path, stop_spinning=False)
            alone = 1e3 * statistics.median(timed(*alone_session, 5 * args.blocks))
            del alone_session
            print(f"{name}: one session alone {alone:8.3f} ms")
            for stop in (False, True):
                first, second = session(path, stop), session(path, stop)
                times = []
                for _ in range(args.blocks):
                    times += timed(*first, 5)
                    timed(*second, 5)
                taking_turns = 1e3 * statistics.median(times)
                print(f"{name}: two sessions taking turns, {'force_spinning_stop' if stop else 'default spinning   '} "
                      f"{taking_turns:8.3f} ms  ({taking_turns / alone:.2f}x alone)")
                del first, second
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
