"""`flopbench run`: the exercise's Task 2, infer N times on one input and print the time."""
from __future__ import annotations

import json
import sys

from ..errors import EXIT_INTERRUPTED
from ..measure.engines import DEFAULT_ENGINE
from .arguments import add_engine_flags, add_model, add_model_flags, engine_config, model_spec
from .output import check_output, warn, write_measured


def add_parser(commands) -> None:
    run = commands.add_parser("run", help="the exercise's Task 2: infer N times on one input and print the time")
    add_model(run)
    add_model_flags(run, layout=True, inputs_help="input .npy (one per input, or name:file.npy); random if omitted")
    run.add_argument("-niter", "--niter", type=int, default=10, help="iterations (default 10)")
    add_engine_flags(run, several=False, requests=False)
    run.add_argument("--json", help="also write the result as JSON (atomically)")
    run.set_defaults(handler=run_command)


def print_run(result) -> None:
    kind = "probability" if result.score_is_probability else "softmax of the output"
    s = result.settings
    print(f"Engine: {s.engine} {s.engine_version.split('-')[0]} on {s.device} ({s.device_name}), precision {s.executed_precision or s.precision}")
    print(f"Top class: {result.top_class} ({kind} {result.score:.4f})")
    print(f"Time taken to run {result.iterations} iterations is: {result.seconds:.6f} seconds")
    if not result.complete:
        print(f"The run is INCOMPLETE: interrupted after {result.iterations:,} of {result.asked_iterations:,} iterations")


def run_command(args) -> int:
    from ..measure.inputs import files_read
    from ..measure.run import run

    check_output(args.json, protect=files_read(args.model, args.input))
    result = run(model_spec(args), args.engine or DEFAULT_ENGINE, engine_config(args), args.niter,
                 on_start=announce if args.niter >= LONG_RUN else None)
    warn(result.warnings)
    print_run(result)
    if args.json:
        write_measured(args.json, json.dumps(result.to_dict(), indent=2) + "\n", "" if result.complete else " (incomplete run)")
    return 0 if result.complete else EXIT_INTERRUPTED


LONG_RUN = 1000  # iterations from which a run is worth interrupting, and says how


def announce() -> None:
    print("flopbench: running (Ctrl-C stops and keeps what was measured)", file=sys.stderr, flush=True)
