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


NAME_WIDTH = 48  # a layer or op name longer than this is shortened in the middle in a terminal table


def short_name(name: str, width: int = NAME_WIDTH) -> str:
    """`name` kept on one table line: its start and its end, which tell layers apart (files keep it whole)."""
    if len(name) <= width:
        return name
    head = (width - 1) // 2
    return name[:head] + "…" + name[len(name) - (width - 1 - head):]


def html_table(rows: list[dict], caption: str = "", notes: list[str] | tuple[str, ...] = ()) -> str:
    """Plain rows as an HTML table (a notebook's view of a result); every cell escaped."""
    from html import escape

    columns = list(rows[0]) if rows else []

    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.4g}"
        return escape(str(value))

    numeric = {c for c in columns if any(isinstance(r[c], (int, float)) and not isinstance(r[c], bool) for r in rows)}
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f'<td style="text-align:right">{cell(r[c])}</td>' if c in numeric else f"<td>{cell(r[c])}</td>"
                                    for c in columns) + "</tr>" for r in rows)
    caption_html = f"<caption>{escape(caption)}</caption>" if caption else ""
    notes_html = "".join(f"<p>{escape(n)}</p>" for n in notes)
    return f"<table>{caption_html}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{notes_html}"
