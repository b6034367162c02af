"""`flopbench compare`: several models side by side, each as a ratio to the first; or the machines
of a gathered fleet file (fleet bench / fleet profile --json) side by side, without measuring."""
from __future__ import annotations

import sys

from ..errors import EXIT_INTERRUPTED, OptionError
from .arguments import (add_model_flags, add_run_flags, add_table_flags, command_line, engine_names, measuring_flags,
                        model_spec, refuse_measuring_flags, run_settings)

PROFILE_ITERATIONS = 50  # profiled inferences per model with --by layer
# compare's own measuring flags (their dests), refused with a gathered fleet file as the run flags are
COMPARE_FLAGS = {"by": "--by", "profile_iterations": "--profile-iterations"}


def add_parser(commands) -> None:
    compare = commands.add_parser("compare", help="count and measure several models side by side, each as a ratio to the first")
    compare.add_argument("models", metavar="MODEL", nargs="+",
                         help="two or more model files (IR .xml, .onnx ...), or one gathered fleet file (fleet bench|profile --json)")
    add_model_flags(compare, shape=True, inputs=False)
    add_run_flags(compare, seconds=3.0, niter=50)
    compare.add_argument("--by", help="model (default) or layer: also profile each model and put layers of the same name side by side")
    compare.add_argument("--profile-iterations", type=int, help="profiled inferences per model with --by layer (default 50)")
    compare.add_argument("--format", help="table (default), json, markdown or csv")
    compare.add_argument("-o", "--output", help="write the comparison to a file (format from the suffix: .json, .md, .csv)")
    add_table_flags(compare)
    compare.add_argument("--html", help="also write the comparison as one self-contained HTML page (as flopbench report)")
    compare.set_defaults(handler=run_command)


def run_command(args) -> int:
    if args.models and all(str(m).lower().endswith(".json") for m in args.models):
        return _gathered(args)
    from ..model.reading import source_files
    from ..comparing.compare import compare
    from ..render.registry import check_format, render
    from .output import check_outputs, emit_measured, format_for, write_measured

    if len(args.models) < 2:
        raise OptionError(f"compare needs at least two models, got {len(args.models)}", "give two or more: flopbench compare A.xml B.xml")
    fmt = check_format("compare", format_for(args.output, args.format))
    check_outputs({"-o": args.output, "--html": args.html}, protect=[f for model in args.models for f in source_files(model)])
    engines = engine_names(args.engine)
    specs = [model_spec(args, model) for model in args.models]
    config, policy = run_settings(args)
    announced: set[tuple[str, str]] = set()

    def on_progress(model: str, engine: str, fraction: float) -> None:
        if (model, engine) not in announced and fraction < 1.0:
            announced.add((model, engine))
            print(f"flopbench: measuring {model} on {engine} (Ctrl-C stops and keeps what was measured)", file=sys.stderr, flush=True)

    comparison = compare(specs, engines, config, policy, progress=on_progress, by=args.by or "model",
                         profile_iterations=PROFILE_ITERATIONS if args.profile_iterations is None else args.profile_iterations)
    rendered = render("compare", fmt, comparison, command=command_line(args))
    emit_measured(rendered, args.output, comparison.complete, args.columns, args.wide)
    if args.html:
        write_measured(args.html, render("compare", "html", comparison, command=command_line(args)))
    return EXIT_INTERRUPTED if comparison.interrupted else 0


def _gathered(args) -> int:
    """The machines of a gathered fleet file side by side: nothing is measured."""
    from pathlib import Path

    from .. import load_result
    from ..errors import ResultFileError
    from ..fleet.compare import side_by_side
    from ..fleet.records import FleetResult
    from ..render.registry import check_format, render
    from .output import check_outputs, emit_measured, format_for, write_measured

    if len(args.models) != 1:
        raise OptionError(f"compare reads one gathered fleet file, got {len(args.models)} .json files",
                          "give one: flopbench compare fleet.json (its nodes are the columns)")
    fmt = check_format("compare", format_for(args.output, args.format))
    refuse_measuring_flags(measuring_flags(args, COMPARE_FLAGS), COMPARE_FLAGS)
    path = args.models[0]
    check_outputs({"-o": args.output, "--html": args.html}, protect=[path])
    result = load_result(path)
    if not isinstance(result, FleetResult):
        raise ResultFileError(f"{Path(path).name} holds a {type(result).__name__}, not a gathered fleet file",
                              "give the --json of flopbench fleet bench or fleet profile, or two or more models to measure now")
    comparison = side_by_side(result)
    emit_measured(render("compare", fmt, comparison, command=command_line(args)), args.output, comparison.complete,
                  args.columns, args.wide)
    if args.html:
        write_measured(args.html, render("compare", "html", comparison, command=command_line(args)))
    return 0
