"""What every renderer shares: plain text from a rich renderable, and a table
as data that a terminal gets through rich and a pipe or a file gets without it."""
from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass


def render_text(renderable, width: int = 160) -> str:
    """Plain text of a rich renderable (or a `TextTable`), for files and pipes."""
    if isinstance(renderable, TextTable):
        plain = renderable.plain(width)
        if plain is not None:
            return plain
        renderable = renderable.rich()
    console = text_console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    console.print(renderable)
    return console.file.getvalue()


@functools.lru_cache(maxsize=1)
def _text_console_class():
    from rich.console import Console
    from rich.segment import Segment

    from .units import safe_lines

    class TextConsole(Console):
        """A rich console for which a string is text: no markup or emoji codes, control characters
        escaped before the layout (so a table stays aligned), and again in what is written (a
        `rich.text.Text` built elsewhere skips `render_str`); rich's own cursor moves are kept."""

        def render_str(self, text, **options):
            return super().render_str(safe_lines(text), **options)

        def _render_buffer(self, buffer):
            return super()._render_buffer(segment if segment.control or segment.text.isprintable()
                                          else Segment(safe_lines(segment.text), segment.style, segment.control) for segment in buffer)

    return TextConsole


def text_console(**options):
    """A rich Console for which names are data: a layer named "[/bold]pw" or "\\x1b]0;title\\x07" is
    printed as those characters (escaped), never read as markup, an emoji code or a terminal escape."""
    return _text_console_class()(markup=False, emoji=False, **options)


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


# --- a table as data ----------------------------------------------------------------------------
# rich's import and its table layout took ~0.1 s of a 0.45 s `flopbench flops` process whose
# output went to a pipe, where nothing of rich shows but box characters. So a table is kept as
# data: a terminal gets it through rich (colours, its width), and a pipe or a file gets the same
# characters rich prints given room for every column, laid out here whenever this code reproduces
# them exactly (cells and title free of rich markup and of characters wider or narrower than one
# cell); any other table goes through rich. tests/test_startup.py holds the two to the same bytes
# on real models.

# characters besides printable ASCII that take exactly one cell (what flopbench's tables use)
ONE_CELL_CHARACTERS = frozenset("└…×—→µ±")
_RICH_MARKUP = re.compile(r"[\[\]:\t\n\r]")  # markup tags, emoji codes, tabs and line breaks
_WORD = re.compile(r"\s*\S+\s*")
# rich's box.HEAVY_HEAD, the box of rich.table.Table
_TOP, _HEAD, _HEAD_ROW, _ROW, _SECTION, _BOTTOM = "┏━┳┓", "┃┃┃", "┡━╇┩", "│││", "├─┼┤", "└─┴┘"


@dataclass(frozen=True)
class TableColumn:
    header: str
    right: bool = False  # numbers are right-aligned
    no_wrap: bool = False  # rich folds a long cell over lines unless told not to (names stay on one line)


@dataclass(frozen=True)
class TableRow:
    cells: tuple[str, ...]
    style: str | None = None  # a rich style for the terminal ("yellow", "dim", "bold")
    end_section: bool = False  # a rule under this row


@dataclass(frozen=True)
class TextTable:
    """A titled table and the notes under it: `rich()` for a terminal, `plain(width)` for a pipe or a file."""

    title: str
    columns: tuple[TableColumn, ...]
    rows: tuple[TableRow, ...]
    notes: str = ""
    header_style: str = "bold"

    def rich(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table(title=self.title, title_justify="left", show_footer=False, header_style=self.header_style)
        for column in self.columns:
            if column.right:
                table.add_column(column.header, justify="right")
            else:
                table.add_column(column.header, overflow="fold", no_wrap=column.no_wrap)
        for row in self.rows:
            table.add_row(*row.cells, style=row.style, end_section=row.end_section)
        return Group(table, Text(self.notes))

    def plain(self, width: int = 160) -> str | None:
        """The characters rich prints for this table at `width` columns without colour; a table
        wider than `width` at its own width, every cell whole (rich would fold shapes over lines
        and crop numbers to "10,838,0…", and a pipe or a file has no width to keep to); None when
        a cell is one only rich lays out (then render it with `rich()`)."""
        texts = [self.title, *(c.header for c in self.columns), *(cell for row in self.rows for cell in row.cells)]
        if any(_RICH_MARKUP.search(text) for text in texts):
            return None  # rich reads the title and the cells as markup (the notes are plain Text)
        if not all(_one_cell_each(text) for text in texts) or not _one_cell_each(self.notes.replace("\n", " ")):
            return None
        if any(len(row.cells) != len(self.columns) for row in self.rows):
            return None
        widths = [max([len(column.header), *(len(row.cells[i]) for row in self.rows)]) + 2 for i, column in enumerate(self.columns)]
        table_width = sum(widths) + len(widths) + 1
        lines = [line.ljust(table_width) for line in _wrap(self.title, table_width)] if self.title else []
        lines.append(_rule(_TOP, widths))
        lines.append(_cells_line(_HEAD, [c.header for c in self.columns], self.columns, widths))
        lines.append(_rule(_HEAD_ROW, widths))
        for index, row in enumerate(self.rows):
            lines.append(_cells_line(_ROW, row.cells, self.columns, widths))
            if row.end_section and index < len(self.rows) - 1:
                lines.append(_rule(_SECTION, widths))
        lines.append(_rule(_BOTTOM, widths))
        lines.extend(_wrap(self.notes, width))
        return "\n".join(lines) + "\n"


def _one_cell_each(text: str) -> bool:
    return (text.isascii() and text.isprintable()) or all((ch.isascii() and ch.isprintable()) or ch in ONE_CELL_CHARACTERS for ch in text)


def _rule(box: str, widths: list[int]) -> str:
    left, line, cross, right = box
    return left + cross.join(line * w for w in widths) + right


def _cells_line(box: str, cells, columns, widths) -> str:
    edge, divider, _ = box
    padded = [f" {cell.rjust(w - 2)} " if column.right else f" {cell.ljust(w - 2)} " for cell, column, w in zip(cells, columns, widths)]
    return edge + divider.join(padded) + edge


def _wrap(text: str, width: int) -> list[str]:
    """rich's word wrap (rich._wrap.divide_line, then Text.rstrip_end and truncate) of one-cell characters."""
    lines = []
    for line in text.split("\n"):
        breaks, offset = [], 0
        for match in _WORD.finditer(line):
            start, word = match.start(), match.group(0)
            length = len(word.rstrip())
            if width - offset >= length:
                offset += len(word)
            elif length > width:  # a word longer than a line is folded
                chunks = [word[i:i + width] for i in range(0, len(word), width)]
                for last, chunk in ((i == len(chunks) - 1, c) for i, c in enumerate(chunks)):
                    if start:
                        breaks.append(start)
                    if last:
                        offset = len(chunk)
                    else:
                        start += len(chunk)
            elif offset and start:
                breaks.append(start)
                offset = len(word)
        for begin, end in zip([0, *breaks], [*breaks, len(line)]):
            piece = line[begin:end]
            if len(piece) > width:
                trailing = len(piece) - len(piece.rstrip())
                piece = piece[:len(piece) - min(trailing, len(piece) - width)]
            lines.append(piece[:width])
    return lines
