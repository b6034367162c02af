"""What every renderer shares: the output formats, and plain text from a rich renderable."""
from __future__ import annotations

import io

from ..errors import OptionError

FORMATS = ("table", "json", "csv", "markdown")


def check_format(fmt: str, allowed: tuple[str, ...] = FORMATS) -> str:
    if fmt not in allowed:
        raise OptionError(f"unknown format {fmt!r}", f"choose one of: {', '.join(allowed)}")
    return fmt


def render_text(renderable, width: int = 160) -> str:
    """Plain text of a rich renderable, for files and pipes."""
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    console.print(renderable)
    return console.file.getvalue()


def human_bytes(count: int) -> str:
    """1.1 GB, 17 MB, 12 kB (decimal units, as disk sizes are sold)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            value = count / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{count} bytes"
