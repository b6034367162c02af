"""`flopbench profile`: time per layer, joined with its FLOPs, on this machine's measured roofline."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import EXIT_INTERRUPTED, OptionError
from ..measure.engines import DEFAULT_ENGINE
from .arguments import add_engine_flags, add_model, add_model_flags, add_profile_length, add_table_flags, engine_config, model_spec
from .output import check_outputs, emit_measured, format_for

PLOT_FORMATS = (".png", ".svg")


def add_parser(commands) -> None:
    profile = commands.add_parser("profile", help="time per layer joined with its FLOPs, against this machine's measured roofline")
    add_model(profile)
    add_model_flags(profile)
    add_engine_flags(profile, several=False, requests=False)
    add_profile_length(profile)
    profile.add_argument("--format", help="table, json, csv or markdown (default: from the -o file's extension, else table)")
    profile.add_argument("-o", "--output", help="write to this file (atomically) instead of the terminal")
    add_table_flags(profile)
    profile.add_argument("--plot", help="write the roofline plot to FILE.png or FILE.svg")
    profile.set_defaults(handler=run_command)


def run_command(args) -> int:
    from ..measure.inputs import files_read
    from ..profiling.profile import profile
    from ..render.profile import plot_bytes
    from ..render.registry import check_format, render
    from ..results.writing import write_bytes_atomic

    fmt = check_format("profile", format_for(args.output, args.format))
    if args.plot and Path(args.plot).suffix.lower() not in PLOT_FORMATS:
        raise OptionError(f"--plot {args.plot}: unknown image type", "give a file ending in .png or .svg")
    protect = files_read(args.model, args.input)
    check_outputs({"-o": args.output, "--plot": args.plot}, protect=protect)

    def progress(text: str) -> None:
        print(f"flopbench: {text} (Ctrl-C stops and keeps what was measured)", file=sys.stderr, flush=True)

    result = profile(model_spec(args), args.engine or DEFAULT_ENGINE, engine_config(args), args.niter, args.warmup,
                     progress=progress)
    rendered = render("profile", fmt, result)
    emit_measured(rendered, args.output, result.complete, args.columns, args.wide)
    if args.plot:
        write_bytes_atomic(args.plot, plot_bytes(result, Path(args.plot).suffix.lower().lstrip(".")))
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0 if result.complete else EXIT_INTERRUPTED
