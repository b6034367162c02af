"""Tables in a narrow terminal: at 80, 100 and 160 columns every table of `flops`/`demo`,
`bench` (two engines), `profile` and `compare` keeps each number whole with its unit; columns are
left out by priority (shapes and kernels first) and a line under the table names them; `--wide`
keeps them all, `--columns` chooses; a pipe gets every column, no cell wrapped."""
import io
import os
import re
import subprocess
import sys

import pytest
from rich.console import Console

from flopbench import bench, count, profile
from flopbench.cli.output import print_fitted, show
from flopbench.measure.policy import RunPolicy
from flopbench.render import units
from flopbench.render.registry import render
from flopbench.comparing.compare import compare

WIDTHS = (80, 100, 160)
QUICK = RunPolicy(warmup_iterations=1, min_duration_s=0.05, min_iterations=5)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def tables(sep_cnn_xml, sep_cnn_onnx, roofline_cache):
    """Each command's table of a real run: (name, the table, independent truths per column)."""
    cost = count(sep_cnn_xml)
    report = bench(sep_cnn_onnx, engines=["openvino", "onnxruntime"], policy=QUICK)
    profiled = profile(sep_cnn_xml, iterations=5, warmup=1)
    comparison = compare([sep_cnn_xml, sep_cnn_onnx], policy=QUICK, by="layer", profile_iterations=5)
    layer_flops = [f"{leaf.flops:,}" for layer in cost.layers for leaf in (layer, *layer.parts)] + [f"{cost.total_flops:,}"]
    unit, scale = units.duration_unit(min(r.latency.median_ns for r in report.results))
    medians = [units.in_unit(stats.median_ns, scale) for r in report.results
               for stats in (r.engine_latency, r.call_latency) if stats is not None]
    profiled_flops = [units.compact(leaf.flops) for row in profiled.layers for leaf in (row, *row.parts)]
    return {
        "flops": (render("count", "table", cost), {"FLOPs": layer_flops}),
        "bench": (render("bench", "table", report), {"Median": medians}),
        "profile": (render("profile", "table", profiled), {"FLOPs": profiled_flops}),
        "compare": (render("compare", "table", comparison), {}),
    }


def printed(table, width, columns=(), wide=False) -> str:
    """What a terminal `width` columns wide shows of `table`: the path `show` takes on a terminal."""
    terminal = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None, highlight=False)
    print_fitted(table if isinstance(table, tuple) else (table,), terminal, columns, wide)
    return ANSI.sub("", terminal.file.getvalue())


def boxes(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Each table drawn in `text`: its headers and its rows of cells, as printed."""
    found, headers = [], None
    for line in text.splitlines():
        if line.startswith("┃"):
            headers = [cell.strip() for cell in line.strip("┃").split("┃")]
            found.append((headers, []))
        elif line.startswith("│") and headers is not None:
            found[-1][1].append([cell.strip() for cell in line.strip("│").split("│")])
    return found


def check_printed(table, text: str, width: int | None, truths: dict[str, list[str]]) -> None:
    parts = table if isinstance(table, tuple) else (table,)
    drawn = boxes(text)
    assert len(drawn) == len(parts), text
    for part, (headers, rows) in zip(parts, drawn):
        assert len(rows) == len(part.rows), f"a row was folded over lines:\n{text}"
        by_header = {}
        for index, column in enumerate(part.columns):
            by_header.setdefault(column.header, index)
            by_header.setdefault(column.short or column.header, index)
        shown = [by_header[header] for header in headers]
        for printed_row, row in zip(rows, part.rows):
            for cell, index in zip(printed_row, shown):
                full = row.cells[index].strip()
                if part.columns[index].right:
                    assert cell == full, f"{part.columns[index].header}: printed {cell!r} for {full!r}\n{text}"
                elif cell != full:  # a name shortened in the middle keeps its start and its end
                    head, _, tail = cell.partition("…")
                    assert _ and full.startswith(head) and full.endswith(tail), (cell, full)
        missing = [column.header for i, column in enumerate(part.columns) if i not in shown]
        if missing:
            note = re.search(rf"not shown at {width} columns: (.*?) \(--wide", " ".join(text.split()))
            assert note and sorted(note.group(1).split(", ")) == sorted(missing), text
        for header, values in truths.items():
            if header in headers:
                column = [r[headers.index(header)] for r in rows if r[headers.index(header)]]
                assert all(value in column for value in values), (header, values, column)
    if width is not None:
        widest = max(len(line) for line in text.splitlines() if line[:1] in "┏┃┡│├└")
        assert widest <= width, f"the table overruns {width} columns:\n{text}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["flops", "bench", "profile", "compare"])
def test_every_number_is_whole_at_every_width(tables, name, width):
    table, truths = tables[name]
    check_printed(table, printed(table, width), width, truths)


def test_shapes_and_kernels_leave_first(tables):
    flops = boxes(printed(tables["flops"][0], 80))[0][0]
    assert "FLOPs" in flops and "Layer" in flops and not {"Input", "Output", "Kernel"} & set(flops)
    profiled = boxes(printed(tables["profile"][0], 80))[0][0]
    assert {"Layer", "µs", "%"} <= set(profiled) and "Kernel" not in profiled


def test_wide_keeps_every_column_and_columns_chooses(tables):
    table = tables["profile"][0]
    wide = printed(table, 80, wide=True)
    assert boxes(wide)[0][0] == [column.header for column in table.columns] and "not shown" not in wide
    chosen = printed(table, 80, columns=("µs", "kernel", "nonsense"))
    assert boxes(chosen)[0][0] == ["Layer", "µs", "Kernel"]
    assert "--columns: no column nonsense" in " ".join(chosen.split())
    check_printed(table.fit(None, ("µs", "kernel")), chosen, 80, {})


def test_a_pipe_gets_every_column_and_no_cell_wrapped(tables, capsys):
    table = tables["profile"][0]
    show(table)
    text = capsys.readouterr().out
    assert boxes(text)[0][0] == [column.header for column in table.columns] and "not shown" not in text
    check_printed(table, text, None, tables["profile"][1])
    kernels = {row.cells[table.columns.index(next(c for c in table.columns if c.header == "Kernel"))] for row in table.rows} - {""}
    assert kernels and all(any(kernel in line for line in text.splitlines()) for kernel in kernels)


@pytest.mark.parametrize("width", WIDTHS)
def test_flops_in_a_terminal_from_the_command_line(sep_cnn_xml, width):
    env = {**os.environ, "COLUMNS": str(width), "TTY_COMPATIBLE": "1", "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "flopbench", "flops", str(sep_cnn_xml)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    check_printed(render("count", "table", count(sep_cnn_xml)), ANSI.sub("", done.stdout), width, {})
