"""The command line: a thin layer over the Python API. Flag names follow benchmark_app's."""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import traceback

from ..version import __version__
from ..errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, FlopbenchError, OptionError, one_line
from .lean_openvino import openvino_without_conversion_api

DEBUG_HINT = "re-run with --debug for the traceback"

# one module per command (flopbench.cli.<name>), in the order `--help` lists them; a command's
# module is imported only when the parser needs it: `flopbench flops ...` imports `flops` alone
COMMANDS = ("demo", "flops", "run", "bench", "compare", "profile", "predict", "machine", "report", "quantize", "zoo", "convert", "fleet", "study")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, exit 2."""

    def error(self, message: str):  # type: ignore[override]
        command = self.prog.removeprefix("flopbench").strip()  # the CLI's own prefix is added once, by main
        raise OptionError(f"{command}: {message}" if command else message, f"see {self.prog} --help")


def command_module(name: str):
    """The module of the command `name`: its `add_parser(commands)` and `run_command(args)`."""
    return importlib.import_module(f"{__package__}.{name}")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole command tree; given the command line, only the command it names when its first
    word is one (the others' modules stay unimported), else every command, for help and errors."""
    parser = _Parser(prog="flopbench", description="How much work a neural network is, layer by layer, and how fast it really runs.")
    parser.add_argument("--version", action="version", version=f"flopbench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    wanted = argv[:1] if argv and argv[0] in COMMANDS else COMMANDS
    for name in wanted:
        command_module(name).add_parser(commands)
    return parser


_STOPPABLE = True  # False once main's work is done: a signal that comes later stops nothing


_RUNNING_IN = os.getpid()  # the process whose run the handler stops (set again by each run)
_WHOLE_PROCESS = False  # True while main() runs as the process itself, which `leave` ends


def ends_in_leave() -> bool:
    """Whether the command runs as the process itself (`flopbench ...`), which ends in `leave`
    once its outputs are written, without Python's teardown: what the command made need not be
    freed. False for main(argv) called in a process that goes on (a test, a notebook)."""
    return _WHOLE_PROCESS


def _interrupt(signum, frame):
    """SIGINT and SIGTERM: stop the run as Ctrl-C does, while there is a run to stop. A process
    forked meanwhile inherits the handler (quantize: NNCF's telemetry sender, terminated by its
    parent when the send is slow): there the signal ends the process as it would have, where a
    KeyboardInterrupt printed a traceback onto the command's stderr."""
    if os.getpid() != _RUNNING_IN:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    if _STOPPABLE:
        raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """The command line; `argv` None is the process itself (`flopbench`, `python -m flopbench`),
    which ends in `leave` with the command's exit code."""
    if argv is None:
        leave(_main_guarded(sys.argv[1:], whole_process=True))
    return _main_guarded(list(argv), whole_process=False)


def leave(code: int) -> None:
    """End the process with `code` once its outputs are written: the exit hooks run (Ray's
    shutdown, temporary folders' clean-up, logging), the standard streams are flushed, and then
    the process exits at once. Python's own teardown is skipped: native threads a library left
    running (Ray's) crashed in it (a segfault seconds after "interrupted"), and a KeyboardInterrupt
    that once crossed native code makes it end the process by SIGINT whatever the code was."""
    import atexit

    try:
        getattr(atexit, "_run_exitfuncs", lambda: None)()
    except BaseException:  # a hook's failure changes nothing about what was written
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # a closed pipe, a closed or missing stream
            pass
    os._exit(code)


def _main_guarded(argv: list[str], whole_process: bool) -> int:
    # --debug is taken anywhere on the line (before or after the command), as users type it
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    # SIGTERM, and SIGINT even when the parent ignored it (a shell starts background jobs with
    # SIGINT ignored, and Python then never raises KeyboardInterrupt): both stop a run cleanly
    global _STOPPABLE, _RUNNING_IN, _WHOLE_PROCESS
    _STOPPABLE, _RUNNING_IN, _WHOLE_PROCESS = True, os.getpid(), whole_process
    wanted = {signal.SIGTERM: _interrupt, signal.SIGINT: _interrupt}
    previous = {}
    for signum, handler in wanted.items():
        try:
            previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread (tests)
            pass
    try:
        with openvino_without_conversion_api():
            return _main(argv, debug)
    except KeyboardInterrupt:  # a signal in the last moments, after _main's own handling: its outputs are written
        print("flopbench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        # first, and with no call before it (a call is where Python runs a signal's handler): a
        # signal already caught and one still to come now stop nothing
        _STOPPABLE = not whole_process
        from .output import release_outputs

        for signum, handler in previous.items():
            # the process: its work is done, so a signal now is ignored, not a death by it (even one
            # already caught whose Python handler has not run yet, and while `leave` ends the
            # process); main() called in-process leaves no handler behind
            try:
                signal.signal(signum, signal.SIG_IGN if whole_process else handler)
            except (ValueError, TypeError):  # a handler set outside Python (None) cannot be put back
                pass
        release_outputs()


def _main(argv: list[str], debug: bool) -> int:
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        args.argv = argv  # the command as typed, for results that record how they were made
        if not getattr(args, "handler", None):
            parser.print_help()
            return EXIT_USAGE
        return args.handler(args)
    except FlopbenchError as exc:
        if debug:  # the traceback, and still the exit code of a bad input
            traceback.print_exc()
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
