"""Errors a user can act on.

Every error flopbench raises for bad input is a `FlopbenchError`: its message is one line that
names the problem and the fix. The CLI prints it without a traceback and exits with `exit_code`.
"""
from __future__ import annotations

import re

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


_BREAKS = re.compile(r"\s*[\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]+\s*")


def one_line(text: object, limit: int = 600) -> str:
    """`text` as one printable line: line breaks become spaces, other control characters '?' (a path
    or a tensor name read from a file can hold anything), and at most `limit` characters."""
    flat = _BREAKS.sub(" ", str(text)).strip()
    flat = "".join(c if c.isprintable() else "?" for c in flat)
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class FlopbenchError(Exception):
    """A problem with what the user gave us; the message says what to do about it."""

    exit_code = EXIT_USAGE

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = one_line(problem)
        self.fix = one_line(fix) if fix else None
        super().__init__(self.problem if not self.fix else f"{self.problem}; {self.fix}")


class ModelFileError(FlopbenchError):
    """The model file is missing, unreadable or not a model."""

    def __init__(self, problem: str, fix: str | None = None, openvino_refused: bool = False):
        super().__init__(problem, fix)
        # True when the file passed flopbench's checks and OpenVINO's parser refused it: another
        # engine (ONNX Runtime with its contrib ops) may still run it
        self.openvino_refused = openvino_refused


class ShapeError(FlopbenchError):
    """A `--shape` is malformed, names no input, or a dynamic dimension was left unset."""


class InputDataError(FlopbenchError):
    """An input array (.npy) is unsafe, unreadable, or fits no model input."""


class EngineError(FlopbenchError):
    """An engine, device or engine property the user asked for is not available."""


class OptionError(FlopbenchError):
    """A command-line option has a value out of range or unknown."""


class FormulaError(FlopbenchError):
    """Formulas given to `count(..., formulas=...)` are not {op type: function} pairs."""


class ResultFileError(FlopbenchError):
    """A result file that is not a flopbench result, is damaged, or cannot be merged."""


class ProfilingError(FlopbenchError):
    """The device, engine or model cannot be profiled layer by layer."""


class CalibrationError(FlopbenchError):
    """`predict` has no calibration for these settings on this machine, or its cache is damaged."""


class OutputError(FlopbenchError):
    """A result cannot be written where the user asked."""


class FleetError(FlopbenchError):
    """Ray is missing, the cluster cannot be reached, or it has no node that can measure."""


_ENGINE_NOISE = re.compile(r"^(Exception from|Check '|\[ ?(GENERAL_ERROR|NOT_FOUND) ?\]$|FrontEnd API failed with|Model wasn't fully converted|"
                    r"Summary:?$|To facilitate the conversion of unsupported operations|Loading input model$)")


def engine_message(exc: BaseException) -> str:
    """The informative line of an OpenVINO / ONNX Runtime exception, without source paths."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not _ENGINE_NOISE.match(ln) and not re.search(r"src/.*\.(cpp|hpp):\d+", ln)]
    # ONNX Runtime puts the reason first and a generic plea last; OpenVINO the reverse: keep both
    text = " ".join(useful) if useful else (lines[0] if lines else type(exc).__name__)
    text = re.sub(r"\s+", " ", text).lstrip("- ")
    return one_line(text, 240) or type(exc).__name__
