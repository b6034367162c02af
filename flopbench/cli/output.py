"""Where the CLI's output goes: the terminal, or a file written atomically; the format from the suffix."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from ..errors import OutputError, one_line
from ..results import writing

FORMAT_BY_SUFFIX = {".json": "json", ".csv": "csv", ".md": "markdown", ".markdown": "markdown"}
PIPE_WIDTH = 160  # a pipe or file gets a wide table rather than rich's 80-column default


def console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty() or "FORCE_COLOR" in os.environ or os.environ.get("TTY_COMPATIBLE") == "1"
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=None if terminal else PIPE_WIDTH)


def show(renderable, stderr: bool = False, columns=(), wide: bool = False) -> None:
    """A rendering on the terminal, through rich, its tables fitted to the terminal's width
    (`TextTable.fit`: columns left out by priority, never a number cut; `wide` keeps them all,
    `columns` chooses). A `TextTable` going to a pipe or a file is written as rich prints it given
    the room, every column, without importing rich (its import and layout were a tenth of a
    second of a `flopbench flops` process), at its own width when wider than 160."""
    from ..render.text import TextTable

    parts = renderable if isinstance(renderable, tuple) else (renderable,)
    stream = sys.stderr if stderr else sys.stdout
    if all(isinstance(part, TextTable) for part in parts) and _colourless(stream):
        plains = [part.fit(None, columns).plain(PIPE_WIDTH) for part in parts]
        if all(plain is not None for plain in plains):
            stream.write("".join(plains))
            return
    print_fitted(parts, console(stderr), columns, wide)


def print_fitted(parts, to, columns=(), wide: bool = False) -> None:
    """Each part on the rich console `to`; a table fitted to its width when it is a terminal, and
    given the room of its every column when it is not (a pipe or a file is never cut)."""
    from ..render.text import TextTable, table_width

    for part in parts:
        if not isinstance(part, TextTable):
            to.print(part)
            continue
        part = part.fit(to.width if to.is_terminal else None, columns, wide)
        width = to.width
        to.width = max(width, table_width(part))  # a table wider than the room (--wide) is drawn whole; the terminal wraps its lines
        try:
            to.print(part.rich())
        finally:
            to.width = width


def _colourless(stream) -> bool:
    """Whether rich would print to `stream` without colour or terminal width: not a terminal, no
    FORCE_COLOR or TTY_COMPATIBLE=1 making it one, and an encoding that keeps its box characters."""
    if "FORCE_COLOR" in os.environ or os.environ.get("TTY_COMPATIBLE") == "1":
        return False
    try:
        return not stream.isatty() and (getattr(stream, "encoding", None) or "utf-8").lower().startswith("utf")
    except (AttributeError, ValueError):
        return False


def format_for(output: str | None, asked: str | None) -> str:
    """The format asked for, else the one the output file's suffix names, else a table."""
    if asked:
        return asked
    if output:
        return FORMAT_BY_SUFFIX.get(Path(output).suffix.lower(), "table")
    return "table"


def emit(text_or_renderable, output: str | None, columns=(), wide: bool = False) -> None:
    """Print to the terminal, or write the file atomically (a table's `columns` chosen there too)."""
    from ..render.text import render_text

    if output:
        text = text_or_renderable if isinstance(text_or_renderable, str) else render_text(_chosen(text_or_renderable, columns))
        writing.write_text_atomic(output, text)
        print(f"wrote {output}", file=sys.stderr)
    elif isinstance(text_or_renderable, str):
        sys.stdout.write(text_or_renderable)
    else:
        show(text_or_renderable, columns=columns, wide=wide)


def _chosen(renderable, columns):
    """The tables of `renderable` with only the `columns` asked for (all when none are)."""
    from ..render.text import TextTable

    if isinstance(renderable, tuple):
        return tuple(_chosen(part, columns) for part in renderable)
    return renderable.fit(None, columns) if isinstance(renderable, TextTable) and columns else renderable


def warn(messages) -> None:
    for message in messages:
        print(f"flopbench: warning: {one_line(message)}", file=sys.stderr)


def check_output(path: str | None, protect=()) -> None:
    """Refuse an output that cannot be written, or that is one of the inputs, before any long work;
    then hold it (see `hold_output`)."""
    if path:
        writing.check_writable(path, protect=protect)
        hold_output(path)


_HELD: dict[str, writing.OutputLock] = {}  # the outputs this command holds, by their real path


def hold_output(path: str | os.PathLike) -> None:
    """Lock an output until the command ends (`release_outputs`, called by `main`): a second run
    writing the same file or results folder meanwhile is refused, naming this one."""
    import socket
    import time

    key = os.path.realpath(path)
    if key in _HELD:
        return
    holder = (f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%H:%M:%S')}: "
              f"flopbench {' '.join(sys.argv[1:])[:200]}")
    lock = writing.lock_output(path, one_line(holder))
    if lock is not None:
        _HELD[key] = lock


def release_outputs() -> None:
    while _HELD:
        _HELD.popitem()[1].release()


def check_outputs(outputs: dict[str, str | None], protect=(), model: str | None = None) -> None:
    """Every output of a command (by its flag: {"-o": path, "--json": path}) checked as
    `check_output` does, and all distinct, before any long work: two flags naming one file (through
    another spelling, a symlink or a hard link too), or a flag naming the weights file of the model
    the `model` flag writes (an IR's .bin), would leave one of them lost or truncated."""
    from ..model.reading import source_files

    written: dict[str, tuple[str, str]] = {}  # the real path -> (flag, what it is)
    for flag, path in outputs.items():
        if not path:
            continue
        writing.check_writable(path, protect=protect)
        files = source_files(path) if flag == model else [Path(path)]
        for index, file in enumerate(files):
            key = _identity(file)
            if key in written:
                first, what = written[key]
                raise OutputError(f"{Path(file).name} would be written twice: by {first}{what} and by {flag}",
                                  "give each output its own file name")
            written[key] = (flag, " (the model's weights)" if index else "")
    for path in outputs.values():
        if path:
            hold_output(path)


def _identity(path: Path) -> str:
    """One key per file: the inode of an existing file (hard links are one file), else the real path."""
    try:
        info = os.stat(path)
        return f"inode:{info.st_dev}:{info.st_ino}"
    except OSError:
        return os.path.normcase(os.path.realpath(path))


def write_measured(path: str, text: str, note: str = "") -> None:
    """Write a measurement's file; when the write fails after the run (a disk fills up), keep the
    measurement in the temporary folder and say where: nothing measured is ever lost."""
    try:
        writing.write_text_atomic(path, text)
    except OutputError as exc:
        raise OutputError(f"{exc.problem}; the measurement was saved to {_save_elsewhere(text)} instead", exc.fix) from None
    print(f"wrote {path}{note}", file=sys.stderr)  # a plain line: rich is not imported for it, a long path stays whole


def emit_measured(rendered, output: str | None, complete: bool = True, columns=(), wide: bool = False) -> None:
    """A measurement's rendering to the terminal, or to `output` kept even when that write fails."""
    if not output:
        emit(rendered, None, columns, wide)
        return
    from ..render.text import render_text

    text = rendered if isinstance(rendered, str) else render_text(_chosen(rendered, columns))
    write_measured(output, text, "" if complete else " (incomplete run)")


def _save_elsewhere(text: str) -> str:
    for folder in (tempfile.gettempdir(), os.getcwd()):
        try:
            fd, path = tempfile.mkstemp(prefix="flopbench-", suffix=".json", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            return path
        except OSError:
            continue
    return "(nowhere: no folder was writable)"
