"""Arguments several commands share."""
from __future__ import annotations


def add_model(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file: IR .xml (with its .bin), .onnx, .tflite ...")
    parser.add_argument("--shape", help="input shapes for dynamic dimensions: name:1x3x224x224[,name2:...]")


def add_run_flags(parser, seconds: float = 10.0, niter: int = 100) -> None:
    """bench's run flags (benchmark_app's names), for every command that measures."""
    from ..measure.engines import engine_choices  # here: a count's parser must not load the engines

    parser.add_argument("--engine", action="append", help=engine_choices(several=True))
    parser.add_argument("-d", "--device", default="CPU", help="device (default CPU)")
    parser.add_argument("-hint", "--hint", default="latency", help="latency (default: sync, one request), throughput (async) or none")
    parser.add_argument("-nireq", "--nireq", type=int, help="number of infer requests in throughput mode")
    parser.add_argument("-nstreams", "--nstreams", type=int, help="number of streams (OpenVINO)")
    parser.add_argument("-nthreads", "--nthreads", type=int, help="number of threads")
    parser.add_argument("-t", "--time", type=float, dest="seconds",
                        help=f"measure each model and engine for about this many seconds, as benchmark_app "
                             f"(default: {seconds:g} s and {niter} runs when neither -t nor -niter is given)")
    parser.add_argument("-niter", "--niter", type=int, help="measure this many runs, as benchmark_app; with -t, both are met")
    parser.add_argument("--min-iterations", type=int,
                        help="a minimum number of runs that -t must also meet (MLPerf's minimum duration and minimum count)")
    parser.set_defaults(default_seconds=seconds, default_niter=niter)
    parser.add_argument("--max-duration", type=float, help="hard cap on each measurement in seconds; a run stopped by it is marked incomplete")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up runs, reported separately (default 5)")
    parser.add_argument("--precision", help="OpenVINO inference precision: f32, bf16 or f16 (default: the device's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")


def add_profile_flags(parser, per: str = "") -> None:
    """profile's flags (the engine aside: one for `profile`, several for `fleet profile`)."""
    parser.add_argument("-d", "--device", default="CPU", help="device (default CPU)")
    parser.add_argument("--precision", help="OpenVINO inference precision: f32, bf16 or f16 (default: the device's)")
    parser.add_argument("-niter", "--niter", type=int, default=100, help=f"profiled inferences{per} (default 100), after the warm-up")
    parser.add_argument("--warmup", type=int, default=10, help="warm-up inferences, not counted (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")


def engine_names(values: list[str] | None) -> list[str]:
    """--engine a,b --engine c → [a, b, c], each once; the default engine when none is given. Unknown names fail here."""
    from ..measure.engines import DEFAULT_ENGINE, get_engine

    names: list[str] = []
    for value in values or [DEFAULT_ENGINE]:
        names.extend(v.strip() for v in value.split(",") if v.strip())
    names = list(dict.fromkeys(names))
    for name in names:
        get_engine(name)
    return names


def run_settings(args):
    """(EngineConfig, RunPolicy) from the run flags (each checks itself when made)."""
    from ..measure.engines import EngineConfig
    from ..measure.policy import RunPolicy

    config = EngineConfig(device=args.device, hint=args.hint, nstreams=args.nstreams, nthreads=args.nthreads,
                          nireq=args.nireq, precision=args.precision)
    if args.seconds is None and args.niter is None:  # this command's own defaults, both to be met
        policy = RunPolicy(warmup_iterations=args.warmup, min_duration_s=args.default_seconds,
                           min_iterations=max(args.default_niter, args.min_iterations or 0), max_duration_s=args.max_duration)
    else:  # the flags mean what they mean for bench and benchmark_app
        policy = RunPolicy.from_flags(seconds=args.seconds, niter=args.niter, min_iterations=args.min_iterations,
                                      warmup=args.warmup, max_duration=args.max_duration)
    return config, policy


def command_line(args) -> str:
    """The command as typed, for a page or result that says how it was made."""
    import shlex
    import sys

    argv = getattr(args, "argv", None)
    return "flopbench " + shlex.join(argv if argv is not None else sys.argv[1:])


def add_table_flags(parser) -> None:
    """--columns and --wide: which columns of the table a terminal shows."""
    parser.add_argument("--columns", type=lambda text: tuple(c for c in text.split(",") if c.strip()), default=(),
                        metavar="A,B,...", help="show only these columns of the table (by their headers; the first is always shown)")
    parser.add_argument("--wide", action="store_true",
                        help="show every column even where the terminal is too narrow (by default columns are left out by priority, and said so)")
