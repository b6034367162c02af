"""The command line: a thin layer over the Python API. Flag names follow benchmark_app's."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from . import __version__
from .errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, FlopbenchError, OptionError, one_line

DEBUG_HINT = "re-run with --debug for the traceback"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, exit 2."""

    def error(self, message: str):  # type: ignore[override]
        raise OptionError(f"{self.prog}: {message}", f"see {self.prog} --help")


def _console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # a pipe or file gets a wide table rather than rich's 80-column default
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=None if stream.isatty() else 160)


def _emit(text_or_renderable, output: str | None) -> None:
    """Print to the terminal, or write the file atomically."""
    from .atomic import write_text_atomic
    from .render import render_text

    if output:
        text = text_or_renderable if isinstance(text_or_renderable, str) else render_text(text_or_renderable)
        write_text_atomic(output, text)
        _console(stderr=True).print(f"wrote {output}", markup=False)
    elif isinstance(text_or_renderable, str):
        sys.stdout.write(text_or_renderable)
    else:
        _console().print(text_or_renderable)


def _warn(messages) -> None:
    for message in messages:
        print(f"flopbench: warning: {one_line(message)}", file=sys.stderr)


# --- commands ---------------------------------------------------------------------------------


FORMAT_BY_SUFFIX = {".json": "json", ".csv": "csv", ".md": "markdown"}


def cmd_flops(args) -> int:
    from .atomic import check_writable
    from .counting import count
    from .loading import source_files
    from .render import check_format, check_view, render_cost

    fmt = args.format or (FORMAT_BY_SUFFIX.get(Path(args.output).suffix.lower(), "table") if args.output else "table")
    check_format(fmt)
    check_view(args.by)
    if args.output:
        check_writable(args.output, protect=source_files(args.model))
    cost = count(args.model, shape=args.shape, include_other=args.include_other, batch=args.batch)
    _emit(render_cost(cost, fmt, args.by), args.output)
    return 0


def cmd_zoo(args) -> int:
    from . import zoo

    if args.name is None or args.list:
        for name in zoo.ZOO_NAMES:
            print(zoo.describe(name))
        return 0
    files = zoo.write_zoo_model(args.name, args.output)
    for path in (files.xml, files.bin, files.onnx, files.image):
        if path is not None:
            print(path)
    return 0


def _print_run(result) -> None:
    kind = "probability" if result.score_is_probability else "softmax of the output"
    s = result.settings
    print(f"Engine: {s.engine} {s.engine_version.split('-')[0]} on {s.device} ({s.device_name}), precision {s.precision}")
    print(f"Top class: {result.top_class} ({kind} {result.score:.4f})")
    print(f"Time taken to run {result.iterations} iterations is: {result.seconds:.6f} seconds")


def cmd_run(args) -> int:
    import json

    from .atomic import check_writable, write_text_atomic
    from .inputs import files_read
    from .run import run

    if args.json:
        check_writable(args.json, protect=files_read(args.model, args.input))
    result = run(args.model, inputs=args.input, niter=args.niter, device=args.device, engine=args.engine,
                 shape=args.shape, precision=args.precision)
    _warn(result.warnings)
    _print_run(result)
    if args.json:
        write_text_atomic(args.json, json.dumps(result.to_dict(), indent=2) + "\n")
    return 0


def cmd_demo(args) -> int:
    from . import zoo
    from .counting import count
    from .render import to_table
    from .run import run

    out = Path(args.output)
    files = zoo.write_zoo_model("sep_cnn", out)
    print(f"Wrote the exercise's sep_cnn model to {out}/: {files.xml.name}, {files.bin.name}, {files.onnx.name}, {files.image.name}\n")
    print("Task 1: FLOPs, layer by layer")
    _console().print(to_table(count(files.xml)))
    print(f"\nTask 2: {files.xml.name} on OpenVINO, {args.niter} iterations on {files.image.name}")
    result = run(files.xml, inputs=[str(files.image)], niter=args.niter, device=args.device)
    _warn(result.warnings)
    _print_run(result)
    return 0


# --- parser -----------------------------------------------------------------------------------


def _add_model(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file: IR .xml (with its .bin), .onnx, .tflite ...")
    parser.add_argument("--shape", help="input shapes for dynamic dimensions: name:1x3x224x224[,name2:...]")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="flopbench", description="How much work a neural network is, layer by layer, and how fast it really runs.")
    parser.add_argument("--version", action="version", version=f"flopbench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = commands.add_parser("demo", help="write the exercise's sep_cnn model, count its FLOPs and run it (the main job)")
    demo.add_argument("-o", "--output", default="sep_cnn", help="folder for the model files (default ./sep_cnn)")
    demo.add_argument("-niter", "--niter", type=int, default=10, help="iterations of Task 2 (default 10)")
    demo.add_argument("-d", "--device", default="CPU")
    demo.set_defaults(handler=cmd_demo)

    flops = commands.add_parser("flops", help="count MACs, FLOPs, parameters and bytes, by layer or by op")
    _add_model(flops)
    flops.add_argument("-b", "--batch", type=int, help="batch size (default: the model's, or 1 if dynamic)")
    flops.add_argument("--by", default="layer", help="layer (default) or op")
    flops.add_argument("--format", help="table, json, csv or markdown (default: from the -o file's extension, else table)")
    flops.add_argument("--include-other", action="store_true", help="add bias, activation, pooling and normalization FLOPs to the total")
    flops.add_argument("-o", "--output", help="write to this file (atomically) instead of the terminal")
    flops.set_defaults(handler=cmd_flops)

    run = commands.add_parser("run", help="the exercise's Task 2: infer N times on one input and print the time")
    _add_model(run)
    run.add_argument("-i", "--input", action="append", help="input .npy (one per input, or name:file.npy); random if omitted")
    run.add_argument("-niter", "--niter", type=int, default=10, help="iterations (default 10)")
    run.add_argument("-d", "--device", default="CPU")
    run.add_argument("--engine", default="openvino", help="openvino (default) or onnxruntime")
    run.add_argument("--precision", help="OpenVINO inference precision: f32, bf16 or f16")
    run.add_argument("--json", help="also write the result as JSON (atomically)")
    run.set_defaults(handler=cmd_run)

    zoo = commands.add_parser("zoo", help="write a reference model (sep_cnn, std_cnn, mobilenet_v1, vgg16)")
    zoo.add_argument("name", nargs="?", help="model name; omit to list them")
    zoo.add_argument("-o", "--output", default=".", help="folder to write into (default .)")
    zoo.add_argument("--list", action="store_true", help="list the models")
    zoo.set_defaults(handler=cmd_zoo)

    from .bench_cli import add_bench_parser

    add_bench_parser(commands)
    return parser


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    # SIGTERM, and SIGINT even when the parent ignored it (a shell starts background jobs with
    # SIGINT ignored, and Python then never raises KeyboardInterrupt): both stop a run cleanly
    wanted = {signal.SIGTERM: _on_sigterm, signal.SIGINT: signal.default_int_handler}
    previous = {}
    for signum, handler in wanted.items():
        try:
            previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread (tests)
            pass
    try:
        return _main(argv, debug)
    finally:
        for signum, handler in previous.items():  # main() called in-process leaves no handler behind
            try:
                signal.signal(signum, handler)
            except (ValueError, TypeError):
                pass


def _main(argv: list[str], debug: bool) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help()
            return EXIT_USAGE
        return args.handler(args)
    except FlopbenchError as exc:
        if debug:
            raise
        print(f"flopbench: error: {one_line(exc, 2000)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("flopbench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MemoryError:
        if debug:
            raise
        print("flopbench: error: out of memory; give smaller shapes (--shape, -b) or a smaller model", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # an internal error: our bug, not the user's
        if debug:
            raise
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"flopbench: internal error: {one_line(f'{type(exc).__name__}: {text}'.rstrip(': '), 300)} ({DEBUG_HINT})", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
