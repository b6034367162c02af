"""`flopbench predict`: each layer's time and the end-to-end latency, predicted without running the model."""
from __future__ import annotations

import sys

from ..errors import OptionError
from ..measure.engines import DEFAULT_ENGINE
from .arguments import add_engine_flags, add_model_flags, engine_config, model_spec
from .output import check_outputs, emit, format_for


def add_parser(commands) -> None:
    predict = commands.add_parser("predict", help="predict each layer's time and the latency on this machine without running the model")
    predict.add_argument("model", metavar="MODEL", nargs="?", help="model file: IR .xml (with its .bin), .onnx, .tflite ...")
    # bench's model and engine flag groups; nothing is run, so no input data (-i, --seed) and one request
    add_model_flags(predict, shape=True, inputs=False, seed=False)
    add_engine_flags(predict, several=False, requests=False)
    predict.add_argument("--format", help="table, json, csv or markdown (default: from the -o file's extension, else table)")
    predict.add_argument("-o", "--output", help="write to this file (atomically) instead of the terminal")
    predict.add_argument("--calibrate", action="store_true",
                         help="measure this machine's calibration for these settings (cached; Ctrl-C keeps what was measured and the next run resumes)")
    predict.add_argument("--quick", action="store_true", help="with --calibrate: a small, fast calibration (tests), cached apart")
    predict.set_defaults(handler=run_command)


def run_command(args) -> int:
    from ..render.registry import check_format, render

    fmt = check_format("predict", format_for(args.output, args.format))
    if args.calibrate:
        from ..profiling.calibration import calibrate
        from ..profiling.predict import check_settings

        def progress(text: str) -> None:
            print(f"flopbench: {text} (Ctrl-C stops, keeps what was measured; the next run resumes)", file=sys.stderr, flush=True)

        config = engine_config(args)
        check_settings(config)
        done = calibrate(args.engine or DEFAULT_ENGINE, config.device, config.precision, config.nthreads, quick=args.quick, progress=progress)
        print(f"flopbench: calibrated {done.engine} ({done.executed_precision}) in {done.seconds:.0f} s: {done.path}", file=sys.stderr)
        if not args.model:
            return 0
    if not args.model:
        raise OptionError("predict needs a MODEL (or --calibrate)", "give a model file, e.g. flopbench predict model.onnx")
    if args.quick and not args.calibrate:
        raise OptionError("--quick is a calibration setting", "use it with --calibrate")
    from ..profiling.predict import predict

    check_outputs({"-o": args.output}, protect=[args.model])
    result = predict(model_spec(args), args.engine or DEFAULT_ENGINE, engine_config(args))
    emit(render("predict", fmt, result), args.output)
    return 0
