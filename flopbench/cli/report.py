"""`flopbench report`: the command-line face of `flopbench.report` -- one self-contained HTML page
of a model, counted and measured now, or rendered from result files measured earlier."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import EXIT_INTERRUPTED
from .arguments import (add_length_flags, add_model_flags, add_engine_flags, command_line, engine_names, measuring_flags,
                        model_spec, refuse_measuring_flags, run_settings)
from .output import check_output, console

DEFAULT_OUTPUT = "report.html"
# report's own measuring flags (their dests), refused with result files as the run flags are
REPORT_FLAGS = {"no_profile": "--no-profile", "profile_niter": "--profile-niter"}


def add_parser(commands) -> None:
    report = commands.add_parser("report", help="one self-contained HTML page: summary, charts, layer table, warnings")
    report.add_argument("sources", metavar="MODEL | RESULT.json", nargs="+",
                        help="a model to count and measure now, or the JSON results of flops / bench / profile to render, "
                             "or one gathered fleet file (its machines side by side)")
    report.add_argument("-o", "--output", default=DEFAULT_OUTPUT, help=f"the HTML file to write (default {DEFAULT_OUTPUT})")
    report.add_argument("--shape", help="input shapes for dynamic dimensions: name:1x3x224x224[,name2:...]")
    add_model_flags(report)
    add_engine_flags(report)
    add_length_flags(report)
    report.add_argument("--no-profile", action="store_true",
                        help="skip the per-layer profile and the roofline (count and bench only)")
    report.add_argument("--profile-niter", type=int, help="profiled inferences per engine (default 100)")
    report.add_argument("--include-other", action="store_true", help="add bias, activation, pooling and normalization FLOPs to the total")
    report.set_defaults(handler=run_command)


def run_command(args) -> int:
    from ..measure.inputs import files_read
    from ..reporting.report import DEFAULT_PROFILE_ITERATIONS, report, save_measurements, split_sources

    model, results = split_sources(args.sources)
    if results:
        refuse_measuring_flags(measuring_flags(args, REPORT_FLAGS), REPORT_FLAGS)
        # never over a result read, nor over the points a sweep's results sit beside
        check_output(args.output, protect=[*results, *(Path(path).parent / "points.json" for path in results)])
        from .main import ends_in_leave

        if ends_in_leave():  # the process ends once the page is written: what it read is not freed first
            from ..results.documents import keep_until_exit

            keep_until_exit()
        made = report(results, include_other=args.include_other, command=command_line(args))
    else:
        check_output(args.output, protect=files_read(model, args.input))
        engines = engine_names(args.engine)  # unknown names fail before any loading
        spec, (config, policy) = model_spec(args, model), run_settings(args)

        def progress(text: str) -> None:
            print(f"flopbench: {text} (Ctrl-C stops and keeps what was measured)", file=sys.stderr, flush=True)

        def unrendered(content) -> None:  # a renderer bug after measuring: the measurements are kept
            saved = save_measurements(content, args.output)
            print(f"flopbench: the measurements were saved to {', '.join(map(str, saved))}; "
                  f"flopbench report {' '.join(map(str, saved))} -o {args.output} renders them", file=sys.stderr)

        made = report(spec, engines, config, policy, profile=not args.no_profile, include_other=args.include_other,
                      profile_iterations=DEFAULT_PROFILE_ITERATIONS if args.profile_niter is None else args.profile_niter,
                      command=command_line(args), progress=progress, unrendered=unrendered)
    from ..results import writing

    writing.write_text_atomic(args.output, made.html)
    console(stderr=True).print(f"wrote {args.output} ({len(made.html.encode('utf-8')) / 1e3:,.0f} kB)", markup=False)
    return 0 if made.complete else EXIT_INTERRUPTED
