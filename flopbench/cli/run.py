"""`flopbench run`: the exercise's Task 2, infer N times on one input and print the time."""
from __future__ import annotations

import json

from .arguments import add_model
import sys

from ..measure.engines import DEFAULT_ENGINE, engine_choices
from ..errors import EXIT_INTERRUPTED
from .output import check_output, warn, write_measured


def add_parser(commands) -> None:
    run = commands.add_parser("run", help="the exercise's Task 2: infer N times on one input and print the time")
    add_model(run)
    run.add_argument("-i", "--input", action="append", help="input .npy (one per input, or name:file.npy); random if omitted")
    run.add_argument("-layout", "--layout", help="input layout of the -i files, as benchmark_app: input[NHWC] (transposed to the model's NCHW), input[HWC->CHW], or NHWC for every input")
    run.add_argument("-niter", "--niter", type=int, default=10, help="iterations (default 10)")
    run.add_argument("-d", "--device", default="CPU")
    run.add_argument("--engine", default=DEFAULT_ENGINE, help=engine_choices())
    run.add_argument("--precision", help="OpenVINO inference precision: f32, bf16 or f16")
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
    result = run(args.model, inputs=args.input, niter=args.niter, device=args.device, engine=args.engine,
                 shape=args.shape, precision=args.precision, layout=args.layout,
                 on_start=announce if args.niter >= LONG_RUN else None)
    warn(result.warnings)
    print_run(result)
    if args.json:
        write_measured(args.json, json.dumps(result.to_dict(), indent=2) + "\n", "" if result.complete else " (incomplete run)")
    return 0 if result.complete else EXIT_INTERRUPTED


LONG_RUN = 1000  # iterations from which a run is worth interrupting, and says how


def announce() -> None:
    print("flopbench: running (Ctrl-C stops and keeps what was measured)", file=sys.stderr, flush=True)
