"""`flopbench machine`: this machine's measured roofline (peak per precision, bandwidth), cached."""
from __future__ import annotations

import sys

from ..measure.engines import DEFAULT_ENGINE, engine_choices
from .output import check_output, emit, format_for


def add_parser(commands) -> None:
    machine = commands.add_parser("machine", help="measure this machine's roofline: peak GFLOP/s per precision, bandwidth per cache level, fixed costs")
    machine.add_argument("--engine", default=DEFAULT_ENGINE, help=engine_choices() + ": the engine that measures")
    machine.add_argument("-d", "--device", default="CPU", help="device (default CPU)")
    machine.add_argument("--format", help="table or json (default: from the -o file's extension, else table)")
    machine.add_argument("-o", "--output", help="write to this file (atomically) instead of the terminal")
    machine.add_argument("--remeasure", action="store_true", help="measure again even if a measurement is cached")
    machine.add_argument("--quick", action="store_true", help="a small, fast measurement (tests); cached apart from the full one")
    machine.set_defaults(handler=run_command)


def run_command(args) -> int:
    from ..profiling.roofline import cache_path, cached_roofline, roofline
    from ..render.registry import check_format, render

    fmt = check_format("machine", format_for(args.output, args.format))
    check_output(args.output)

    def progress(text: str) -> None:
        print(f"flopbench: measuring {text}", file=sys.stderr, flush=True)

    # read from the cache here rather than inside roofline(), so the output can say the figures are old
    cached = None if args.remeasure else cached_roofline(args.engine, args.device, args.quick)
    measured = cached if cached is not None else roofline(args.engine, args.device, remeasure=args.remeasure, quick=args.quick, progress=progress)
    source = str(cache_path(args.engine, args.device, args.quick)) if cached is not None else None
    emit(render("machine", fmt, measured, cached_from=source), args.output)
    return 0
