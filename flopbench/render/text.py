"""What every renderer shares: plain text from a rich renderable, and a table
as data that a terminal gets through rich and a pipe or a file gets without it."""
from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass, replace

from .units import safe_name


def render_text(renderable, width: int = 160) -> str:
    """Plain text of a rich renderable (or a `TextTable`, or a tuple of them), for files and pipes."""
    if isinstance(renderable, tuple):
        return "".join(render_text(each, width) for each in renderable)
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
    drop: int = 0  # in a narrow terminal, columns are left out highest first (shapes and kernels); 0: always shown
    short: str = ""  # the header where room is short ("µs" for "Time µs")
    names: bool = False  # a column of names, shortened in the middle where room is short (numbers never are)


NARROWEST_NAME = 12  # a name column is never shortened below this
SHORTEN_NAMES_BELOW = 5  # before leaving out a column of drop rank below this, names are shortened to 24


def table_width(table: "TextTable") -> int:
    """The columns a table takes with every cell whole (rich's box and one space of padding a side)."""
    widths = [max([len(column.header), *(len(row.cells[i]) for row in table.rows)]) + 2 for i, column in enumerate(table.columns)]
    return sum(widths) + len(widths) + 1


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

    def columns_named(self, names) -> tuple[list[int], list[str]]:
        """The indexes of the columns `names` chooses (header or short header, any case; the first
        column always), and the names that match no column."""
        wanted = [name.strip().lower() for name in names if name.strip()]
        known = {text.lower(): i for i, c in enumerate(self.columns) for text in (c.header, c.short) if text}
        return sorted({0, *(known[name] for name in wanted if name in known)}), [name for name in wanted if name not in known]

    def select(self, indexes, note: str = "") -> "TextTable":
        """The table with only the columns at `indexes`, and `note` said under it."""
        columns = tuple(self.columns[i] for i in indexes)
        rows = tuple(TableRow(tuple(row.cells[i] for i in indexes), row.style, row.end_section) for row in self.rows)
        return TextTable(self.title, columns, rows, "\n".join(text for text in (note, self.notes) if text), self.header_style)

    def fit(self, width: int | None, chosen=(), wide: bool = False) -> "TextTable":
        """The table for a terminal `width` columns wide: short headers first, then the columns of
        the highest `drop` left out (names shortened in the middle on the way) until every cell
        fits whole; a line under it says what was left out. A number is never cut: rather than
        that, a column goes. `chosen` names the columns to show; `wide` leaves every column in."""
        table, said = self, []
        if chosen:
            indexes, unknown = self.columns_named(chosen)
            if unknown:
                said.append(f"--columns: no column {', '.join(unknown)}; this table has {', '.join(c.header for c in self.columns)}")
            table = table.select(indexes)  # the columns asked for are kept; only names shorten to fit
            table = replace(table, columns=tuple(replace(c, drop=0) for c in table.columns))
        if not (wide or width is None or table_width(table) <= width):
            headers = [c.header for c in table.columns]
            base = replace(table, columns=tuple(replace(c, header=c.short or c.header) for c in table.columns))
            kept, dropped = list(range(len(headers))), []
            table = base
            while table_width(table) > width:
                ranks = [c.drop for c in table.columns]
                top = max(ranks)
                shorter = table._shorten_names(width, 24 if top else NARROWEST_NAME)
                if shorter is not table and top < SHORTEN_NAMES_BELOW:
                    table = shorter
                elif top:
                    dropped.append(headers[kept.pop(ranks.index(top))])
                    table = base.select(kept)
                else:
                    break  # as narrow as it goes without cutting a number: the terminal wraps the lines
            if dropped:  # names as long as the room left allows
                table = base.select(kept)._shorten_names(width, NARROWEST_NAME)
                said.append(f"not shown at {width} columns: {', '.join(dropped)} (--wide shows every column, --columns chooses)")
        return table.select(range(len(table.columns)), "; ".join(said)) if said else table

    def _shorten_names(self, width: int, floor: int) -> "TextTable":
        """The name columns shortened in the middle, as far as `width` needs and no shorter than
        `floor`; this table itself when none can shorten."""
        excess = table_width(self) - width
        rows, columns = [list(row.cells) for row in self.rows], list(self.columns)
        for i, column in enumerate(self.columns):
            longest = max([len(column.header), *(len(row.cells[i]) for row in self.rows)])
            target = max(floor, len(column.header), longest - excess)
            if column.names and target < longest:
                for cells in rows:
                    cells[i] = short_name(cells[i], target)
                excess -= longest - target
        if all(tuple(cells) == row.cells for cells, row in zip(rows, self.rows)):
            return self
        return replace(self, rows=tuple(replace(row, cells=tuple(cells)) for cells, row in zip(rows, self.rows)), columns=tuple(columns))

    def printable(self) -> "TextTable":
        """The table with every name read from a file made one printable line (units.safe_name):
        a layer named with a terminal escape sequence is shown as its escapes, never run."""
        rows = tuple(replace(row, cells=tuple(safe_name(cell) for cell in row.cells)) for row in self.rows)
        notes = "\n".join(safe_name(line) for line in self.notes.split("\n"))
        return replace(self, title=safe_name(self.title), rows=rows, notes=notes)

    def rich(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        self = self.printable()

        table = Table(title=Text(self.title), title_justify="left", show_footer=False, header_style=self.header_style)
        for i, column in enumerate(self.columns):
            if column.right:  # a number keeps its room: rich would rather crop it to "10,838,0…"
                longest = max([len(column.header), *(len(row.cells[i]) for row in self.rows)])
                table.add_column(column.header, justify="right", no_wrap=True, min_width=longest)
            else:
                table.add_column(column.header, overflow="fold", no_wrap=column.no_wrap)
        for row in self.rows:
            # cells are Text, never read as markup: a layer named "[/bold]" is shown as it is
            table.add_row(*(Text(cell) for cell in row.cells), style=row.style, end_section=row.end_section)
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
        self = self.printable()  # the checks above saw the raw names: one with a control character goes through rich
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
