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
