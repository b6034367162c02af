"""`flopbench bench`: the command-line face of `measure.bench`."""
from __future__ import annotations

import sys

from ..measure.engines import engine_choices
from ..errors import EXIT_INTERRUPTED, OptionError
from .arguments import add_table_flags, engine_names
from .output import check_outputs, console, emit_measured, format_for, write_measured


def add_parser(commands) -> None:
    bench = commands.add_parser("bench", help="measure latency and throughput on OpenVINO and/or ONNX Runtime")
    bench.add_argument("model", metavar="MODEL", nargs="?", help="model file: IR .xml, .onnx, ... (or -m MODEL, as benchmark_app)")
    bench.add_argument("-m", dest="model_flag", help=argparse_suppress(), default=None)
    bench.add_argument("--shape", help="input shapes: name:1x3x224x224[,name2:...]")
    bench.add_argument("--engine", action="append", help=engine_choices(several=True) + " for a side-by-side table")
    bench.add_argument("-d", "--device", default="CPU", help="device (default CPU)")
    bench.add_argument("-hint", "--hint", default="latency", help="latency (default: sync, one request), throughput (async) or none")
    bench.add_argument("-nireq", "--nireq", type=int, help="number of infer requests in throughput mode")
    bench.add_argument("-nstreams", "--nstreams", type=int, help="number of streams (OpenVINO)")
    bench.add_argument("-nthreads", "--nthreads", type=int, help="number of threads")
    bench.add_argument("-b", "--batch", type=int, help="batch size")
    bench.add_argument("-t", "--time", type=float, dest="seconds",
                       help="measure for about this many seconds, as benchmark_app (default: 10 s and 100 runs when neither -t nor -niter is given)")
    bench.add_argument("-niter", "--niter", type=int, help="measure this many runs, as benchmark_app; with -t, both are met")
    bench.add_argument("--min-iterations", type=int,
                       help="a minimum number of runs that -t must also meet (MLPerf's minimum duration and minimum count)")
    bench.add_argument("--max-duration", type=float, help="hard cap on the measuring time in seconds; a run stopped by it is marked incomplete")
    bench.add_argument("--warmup", type=int, default=5, help="warm-up runs, reported separately (default 5)")
    bench.add_argument("--precision", help="OpenVINO inference precision: f32, bf16 or f16 (default: the device's)")
    bench.add_argument("-i", "--input", action="append", help="input .npy (one per input, or name:file.npy); seeded random if omitted")
    bench.add_argument("-layout", "--layout", help="input layout of the -i files, as benchmark_app: input[NHWC] (transposed to the model's NCHW), input[HWC->CHW], or NHWC for every input")
    bench.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    bench.add_argument("--json", help="write the full result as JSON (atomically)")
    bench.add_argument("--format", help="table, json, csv or markdown (default: from the -o file's extension, else table)")
    bench.add_argument("-o", "--output", help="write the table in --format to this file (atomically) instead of the terminal")
    add_table_flags(bench)
    bench.add_argument("--save-latencies", action="store_true", help="include every latency in the JSON")
    bench.set_defaults(handler=run_command)


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


def run_command(args) -> int:
    import json

    from ..measure.engines import EngineConfig
    from ..measure.bench import bench
    from ..measure.policy import RunPolicy
    from ..render.registry import check_format, render

    model = args.model_flag or args.model
    if not model:
        raise OptionError("flopbench bench needs a model", "give it: flopbench bench MODEL (or -m MODEL)")
    if args.save_latencies and not (args.json or args.format == "json" or (args.output or "").lower().endswith(".json")):
        raise OptionError("--save-latencies needs --json FILE", "add --json results.json, or drop --save-latencies")
    from ..measure.inputs import files_read

    fmt = check_format("bench", format_for(args.output, args.format))
    check_outputs({"-o": args.output, "--json": args.json}, protect=files_read(model, args.input))
    engines = engine_names(args.engine)  # unknown names fail before any loading
    config = EngineConfig(device=args.device, hint=args.hint, nstreams=args.nstreams, nthreads=args.nthreads,
                          nireq=args.nireq, precision=args.precision)
    policy = RunPolicy.from_flags(seconds=args.seconds, niter=args.niter, min_iterations=args.min_iterations,
                                  warmup=args.warmup, max_duration=args.max_duration)
    err = console(stderr=True)
    show_progress = sys.stderr.isatty() and (policy.min_duration_s or 0) >= 2
    progress_bar = None
    if show_progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress_bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                                TimeElapsedColumn(), console=err, transient=True)
    tasks: dict[str, int] = {}

    announced: set[str] = set()

    def on_progress(engine: str, fraction: float) -> None:
        if progress_bar is None:
            # no bar (a pipe, or a short run): one line says the measurement is under way
            if engine not in announced and fraction < 1.0:
                announced.add(engine)
                print(f"flopbench: measuring {engine} (Ctrl-C stops and keeps what was measured)", file=sys.stderr, flush=True)
            return
        if engine not in tasks:
            tasks[engine] = progress_bar.add_task(f"{engine}", total=1.0)
        progress_bar.update(tasks[engine], completed=fraction)

    if progress_bar is not None:
        progress_bar.start()
    try:
        report = bench(model, engines=engines, config=config, policy=policy, inputs=args.input,
                       shape=args.shape, batch=args.batch, seed=args.seed, layout=args.layout, progress=on_progress)
    finally:
        if progress_bar is not None:
            progress_bar.stop()
    rendered = render("bench", fmt, report, save_latencies=args.save_latencies)
    emit_measured(rendered, args.output, report.complete, args.columns, args.wide)
    if args.json:
        text = json.dumps(report.to_dict(save_latencies=args.save_latencies), indent=2) + "\n"
        write_measured(args.json, text, "" if report.complete else " (incomplete run)")
    return EXIT_INTERRUPTED if report.interrupted else 0
