"""`flopbench bench`: the command-line face of `measure.bench`."""
from __future__ import annotations

import sys

from ..errors import EXIT_INTERRUPTED, OptionError
from .arguments import add_model_flags, add_run_flags, add_table_flags, engine_names, model_spec, run_settings
from .output import check_outputs, console, emit_measured, format_for, write_measured


def add_parser(commands) -> None:
    bench = commands.add_parser("bench", help="measure latency and throughput on OpenVINO and/or ONNX Runtime")
    bench.add_argument("model", metavar="MODEL", nargs="?", help="model file: IR .xml, .onnx, ... (or -m MODEL, as benchmark_app)")
    bench.add_argument("-m", dest="model_flag", help=argparse_suppress(), default=None)
    add_model_flags(bench, shape=True, layout=True)
    add_run_flags(bench)
    bench.add_argument("--json", help="write the full result as JSON (atomically)")
    bench.add_argument("--format", help="table, json, csv or markdown (default: from the -o file's extension, else table)")
    bench.add_argument("-o", "--output", help="write the table in --format to this file (atomically) instead of the terminal")
    add_table_flags(bench)
    bench.add_argument("--save-latencies", action="store_true", help="include every latency in the JSON")
    bench.add_argument("-v", "--verbose", action="store_true",
                       help="under each warning, every engine's own (and each kind of latency's); by default each warning is said once")
    bench.set_defaults(handler=run_command)


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


def run_command(args) -> int:
    import json

    from ..measure.bench import bench
    from ..measure.inputs import files_read
    from ..render.registry import check_format, render

    model = args.model_flag or args.model
    if not model:
        raise OptionError("flopbench bench needs a model", "give it: flopbench bench MODEL (or -m MODEL)")
    if args.save_latencies and not (args.json or args.format == "json" or (args.output or "").lower().endswith(".json")):
        raise OptionError("--save-latencies needs --json FILE", "add --json results.json, or drop --save-latencies")
    fmt = check_format("bench", format_for(args.output, args.format))
    check_outputs({"-o": args.output, "--json": args.json}, protect=files_read(model, args.input))
    engines = engine_names(args.engine)  # unknown names fail before any loading
    spec, (config, policy) = model_spec(args, model), run_settings(args)
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
        report = bench(spec, engines, config, policy, progress=on_progress)
    finally:
        if progress_bar is not None:
            progress_bar.stop()
    rendered = render("bench", fmt, report, save_latencies=args.save_latencies, verbose=args.verbose)
    emit_measured(rendered, args.output, report.complete, args.columns, args.wide)
    if args.json:
        text = json.dumps(report.to_dict(save_latencies=args.save_latencies), indent=2) + "\n"
        write_measured(args.json, text, "" if report.complete else " (incomplete run)")
    return EXIT_INTERRUPTED if report.interrupted else 0
