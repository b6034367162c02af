"""Arguments several commands share."""
from __future__ import annotations


def add_model(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file: IR .xml (with its .bin), .onnx, .tflite ...")
    parser.add_argument("--shape", help="input shapes for dynamic dimensions: name:1x3x224x224[,name2:...]")


def add_run_flags(parser, seconds: float = 10.0, niter: int = 100) -> None:
    """bench's run flags (benchmark_app's names), for every command that measures."""
    parser.add_argument("--engine", action="append", help="openvino (default) and/or onnxruntime; repeat or comma-separate")
    parser.add_argument("-d", "--device", default="CPU", help="device (default CPU)")
    parser.add_argument("-hint", "--hint", default="latency", help="latency (default: sync, one request), throughput (async) or none")
    parser.add_argument("-nireq", "--nireq", type=int, help="number of infer requests in throughput mode")
    parser.add_argument("-nstreams", "--nstreams", type=int, help="number of streams (OpenVINO)")
    parser.add_argument("-nthreads", "--nthreads", type=int, help="number of threads")
    parser.add_argument("-t", "--time", type=float, default=seconds, dest="seconds",
                        help=f"minimum measuring time in seconds per model and engine (default {seconds:g})")
    parser.add_argument("-niter", "--niter", type=int, default=niter, help=f"minimum number of measured runs (default {niter})")
    parser.add_argument("--max-duration", type=float, help="hard cap on each measurement in seconds; a run stopped by it is marked incomplete")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up runs, reported separately (default 5)")
    parser.add_argument("--precision", help="OpenVINO inference precision: f32, bf16 or f16 (default: the device's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")


def engine_names(values: list[str] | None) -> list[str]:
    """--engine a,b --engine c → [a, b, c], each once; openvino when none is given. Unknown names fail here."""
    from ..measure.engines import get_engine

    names: list[str] = []
    for value in values or ["openvino"]:
        names.extend(v.strip() for v in value.split(",") if v.strip())
    names = list(dict.fromkeys(names))
    for name in names:
        get_engine(name)
    return names


def run_settings(args):
    """(EngineConfig, RunPolicy) from the run flags, validated."""
    from ..measure.engines import EngineConfig
    from ..measure.policy import RunPolicy

    config = EngineConfig(device=args.device, hint=args.hint, nstreams=args.nstreams, nthreads=args.nthreads,
                          nireq=args.nireq, precision=args.precision)
    policy = RunPolicy(warmup_iterations=args.warmup, min_duration_s=args.seconds, min_iterations=args.niter,
                       max_duration_s=args.max_duration)
    config.validate()
    policy.validate()
    return config, policy
