"""Every number and unit as flopbench prints it, written once: durations, SI magnitudes, bytes,
counts, shapes, ratios, percentages, and names made safe for a line of text.

A renderer formats through these so that one quantity reads the same in every table, page and
message (a microsecond is always "µs"). They are formatting only: nothing here computes a result."""
from __future__ import annotations

from ..model.shapes import format_shape

MICRO = "µs"
NONE = "—"  # a value that does not exist (not measured, too few runs)
# (unit, nanoseconds in one): the largest that fits names a duration
DURATION_UNITS = (("s", 1e9), ("ms", 1e6), (MICRO, 1e3))
SI_PREFIXES = (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3))
DECIMAL_BYTES = (("GB", 10**9), ("MB", 10**6), ("kB", 10**3))


def duration(ns: float | None) -> str:
    """A duration in the largest unit under it: "950 ns", "285.4 µs", "12.34 ms", "2.00 s"."""
    if ns is None:
        return ""
    ns = float(ns)
    if abs(ns) < 1e3:
        return f"{ns:.0f} ns"
    if abs(ns) < 1e6:
        return f"{ns / 1e3:.1f} {MICRO}"
    if abs(ns) < 1e9:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e9:.2f} s"


def duration_in_words(ns: float, ascii_micro: bool = False) -> str:
    """A duration to three significant digits, for a sentence: "400 µs", "10 ms". `ascii_micro`
    spells the microsecond "us": the statistics warnings are written so, as the README shows them."""
    ns = float(ns)
    for unit, scale in DURATION_UNITS:
        if abs(ns) >= scale:
            return f"{ns / scale:.3g} {'us' if ascii_micro and unit == MICRO else unit}"
    return f"{ns:.3g} ns"


def duration_unit(smallest_ns: float) -> tuple[str, float]:
    """One unit for a column of durations, chosen by the smallest: ("µs", 1e3), ("ms", 1e6) or ("s", 1e9)."""
    for unit, scale in DURATION_UNITS:
        if smallest_ns >= scale:
            return unit, scale
    return MICRO, 1e3


def in_unit(ns: float, scale: float) -> str:
    """A duration as a number in a column's unit: one decimal below a thousand, none above."""
    value = ns / scale
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def count(value: int | float | None) -> str:
    """An exact count with thousands separators (a float to two decimals): 1,234,567."""
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def fixed(value: float | None, digits: int = 1, missing: str = "") -> str:
    """A measured quantity to `digits` decimals with thousands separators: 1,234.5."""
    return missing if value is None else f"{value:,.{digits}f}"


def si(value: float, unit: str) -> str:
    """A magnitude with an SI prefix, three significant digits: 1,234,567 FLOPs → 1.23 MFLOPs."""
    for prefix, scale in SI_PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:,.0f} {unit}"


def compact(value: int) -> str:
    """A count shortened for a narrow column, its magnitude kept as a suffix: 1,489,152 → 1.49M."""
    for prefix, scale in SI_PREFIXES[1:]:
        if value >= scale:
            return f"{value / scale:.3g}{prefix}"
    return str(value)


def bytes_exact(value: int) -> str:
    """Bytes, every digit, with a readable unit beside them: 6,422,528 B (6.42 MB)."""
    for unit, size in DECIMAL_BYTES:
        if abs(value) >= size:
            return f"{value:,} B ({value / size:.3g} {unit})"
    return f"{value:,} B"


def binary_bytes(value: int) -> str:
    """A size in the binary units caches are sold in: 48 KiB, 1 MiB, 32 MiB, 192 MiB."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value} B"


def human_bytes(value: int) -> str:
    """1.1 GB, 17 MB, 12 kB (decimal units, as disk sizes are sold)."""
    for unit, size in DECIMAL_BYTES:
        if value >= size:
            scaled = value / size
            return f"{scaled:.1f} {unit}" if scaled < 10 else f"{scaled:.0f} {unit}"
    return f"{value} bytes"


def megabytes(value: int) -> str:
    """Bytes in MB to one decimal: memory growth read side by side."""
    return f"{value / 1e6:,.1f} MB"


def shape(dims) -> str:
    """A tensor shape as written on the command line (1x3x224x224); empty for none."""
    return format_shape(dims) if dims else ""


def percent(fraction: float | None) -> str:
    """A fraction of one as a whole percentage: 0.453 → 45%."""
    return NONE if fraction is None else f"{100 * fraction:.0f}%"


def ratio(value: float | None) -> str:
    """A ratio to three decimals with its sign: 1.489×."""
    return NONE if value is None else f"{value:.3f}×"


def safe_name(text) -> str:
    """A name read from a file as one line of printable text: control characters (terminal escape
    sequences, line breaks, direction overrides) shown as their escapes, \\x1b, \\n, \\u202e."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def safe_lines(text) -> str:
    """Text of several lines with every control character but the line breaks shown as its escape."""
    return "\n".join(safe_name(line) for line in str(text).split("\n"))


def markdown_text(text) -> str:
    """Markdown prose: safe, and no HTML (a name "<script>" is shown, not run)."""
    return safe_lines(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_cell(text) -> str:
    """A table cell of Markdown: one safe line without HTML, its pipes escaped."""
    return markdown_text(safe_name(text)).replace("|", "\\|")


def csv_record(record: dict) -> dict:
    """A CSV row with its text cells safe (a CSV printed to a terminal is printed)."""
    return {key: safe_name(value) if isinstance(value, str) else value for key, value in record.items()}


def metric(value: float | int | str | None, unit: str) -> str:
    """A compared metric's value with its unit: a duration in its unit, a rate to two decimals,
    a count exact; a word (a precision) as it is; — where the value does not exist."""
    if value is None:
        return NONE
    if isinstance(value, str):
        return value
    if unit == "ns":
        return duration(value)
    if unit == "%":
        return f"{value:,.1f}%"
    if unit == "B":
        return f"{value:,} B"
    if unit:
        return f"{value:,.2f} {unit}"
    return count(value)
