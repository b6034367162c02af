"""`flopbench predict`: each layer's time and the end-to-end latency, predicted without running the model."""
from __future__ import annotations

import sys

from ..errors import OptionError
from ..measure.engines import DEFAULT_ENGINE, engine_choices
from .output import check_outputs, emit, format_for


def add_parser(commands) -> None:
    predict = commands.add_parser("predict", help="predict each layer's time and the latency on this machine without running the model")
    predict.add_argument("model", metavar="MODEL", nargs="?", help="model file: IR .xml (with its .bin), .onnx, .tflite ...")
    predict.add_argument("--shape", help="input shapes for dynamic dimensions: name:1x3x224x224[,name2:...]")
    predict.add_argument("-b", "--batch", type=int, help="batch size")
    predict.add_argument("--engine", default=DEFAULT_ENGINE, help=engine_choices())
    predict.add_argument("-d", "--device", default="CPU", help="device (default CPU)")
    predict.add_argument("--precision", help="OpenVINO inference precision: f32, bf16 or f16 (default: the device's)")
    predict.add_argument("-nthreads", "--nthreads", type=int, help="number of threads")
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

        def progress(text: str) -> None:
            print(f"flopbench: {text} (Ctrl-C stops, keeps what was measured; the next run resumes)", file=sys.stderr, flush=True)

        done = calibrate(args.engine, args.device, args.precision, args.nthreads, quick=args.quick, progress=progress)
        print(f"flopbench: calibrated {done.engine} ({done.executed_precision}) in {done.seconds:.0f} s: {done.path}", file=sys.stderr)
        if not args.model:
            return 0
    if not args.model:
        raise OptionError("predict needs a MODEL (or --calibrate)", "give a model file, e.g. flopbench predict model.onnx")
    if args.quick and not args.calibrate:
        raise OptionError("--quick is a calibration setting", "use it with --calibrate")
    from ..profiling.predict import predict

    check_outputs({"-o": args.output}, protect=[args.model])
    result = predict(args.model, engine=args.engine, device=args.device, precision=args.precision, nthreads=args.nthreads,
                     shape=args.shape, batch=args.batch)
    emit(render("predict", fmt, result), args.output)
    return 0
