"""The one OpenVINO Core every stage shares, and a way to keep native libraries' stderr quiet."""
from __future__ import annotations

import contextlib
import os
import sys

_core = None


def openvino_core():
    """One shared `openvino.Core`: creating it loads plugins, which costs tens of milliseconds."""
    global _core
    if _core is None:
        import openvino as ov

        _core = ov.Core()
    return _core


@contextlib.contextmanager
def quiet_native_stderr():
    """Keep what C++ libraries print on file descriptor 2 (OpenVINO's frontends log parse errors
    there when they probe a file that is not theirs) off the user's terminal: flopbench says what
    went wrong in one line of its own. What they print goes to the null device (opening it costs a
    few microseconds, a temporary file a millisecond: this runs on every count)."""
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError, OSError):
        pass
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all
        yield
        return
    try:
        sink = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        os.close(saved)
        yield
        return
    try:
        os.dup2(sink, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(sink)
