"""Render the MobileNet paper's tables beside flopbench's counts (`flopbench study mobilenet`).
Rendering never computes: the rows and shares come from `study.paper`."""
from __future__ import annotations

import json

from .registry import renderer


def _params(millions: float | None, table: str) -> str:
    """As the paper rounds them: two decimals in Table 3, one elsewhere."""
    if millions is None:
        return "—"
    return f"{millions:.2f} M" if table == "3" else f"{millions:.1f} M"


@renderer("paper", "table")
def paper_table(tables):
    """The MobileNet paper's Tables 4, 6, 7 and 2 beside flopbench's counts."""
    rows, shares_of_v1 = tables.rows, tables.shares_of_v1
    from rich.console import Group
    from rich.table import Table

    from ..study.paper import PAPER_SHARES

    models = Table(title="MobileNet (Howard et al. 2017): the paper's numbers and flopbench's", title_justify="left")
    for i, name in enumerate(("Table", "Model", "Mult-adds (paper)", "Mult-adds (flopbench)", "Difference",
                              "Params (paper)", "Params (flopbench)")):
        models.add_column(name, justify="left" if i < 2 else "right")
    for row in rows:
        models.add_row(row.table, row.model, f"{row.paper_mult_adds_m:,.1f} M" if row.table == "3" else f"{row.paper_mult_adds_m:,.0f} M", f"{row.mult_adds / 1e6:,.1f} M",
                       f"{100 * row.mult_adds_error:+.2f}%", _params(row.paper_params_m, row.table), f"{_params(row.params / 1e6, row.table)} ({row.params:,})")
    table2 = Table(title="Table 2: share of mult-adds and parameters by layer type (1.0 MobileNet-224)", title_justify="left")
    for i, name in enumerate(("Type", "Mult-adds (paper)", "Mult-adds (flopbench)", "Params (paper)", "Params (flopbench)")):
        table2.add_column(name, justify="left" if i == 0 else "right")
    for kind, (macs, params) in PAPER_SHARES.items():
        got = shares_of_v1.get(kind, (0.0, 0.0))
        table2.add_row(kind, f"{macs:.2f}%", f"{got[0]:.2f}%", f"{params:.2f}%", f"{got[1]:.2f}%")
    return Group(models, table2)


@renderer("paper", "markdown")
def paper_markdown(tables) -> str:
    rows, shares_of_v1 = tables.rows, tables.shares_of_v1
    from ..study.paper import PAPER_SHARES

    lines = ["| Table | Model | Mult-adds (paper) | Mult-adds (flopbench) | Difference | Params (paper) | Params (flopbench) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        paper = f"{row.paper_mult_adds_m:,.1f}" if row.table == "3" else f"{row.paper_mult_adds_m:,.0f}"
        lines.append(f"| {row.table} | {row.model} | {paper} M | {row.mult_adds / 1e6:,.1f} M | "
                     f"{100 * row.mult_adds_error:+.2f}% | {_params(row.paper_params_m, row.table)} | "
                     f"{_params(row.params / 1e6, row.table)} ({row.params:,}) |")
    lines += ["", "| Type (Table 2) | Mult-adds (paper) | Mult-adds (flopbench) | Params (paper) | Params (flopbench) |",
              "|---|---:|---:|---:|---:|"]
    for kind, (macs, params) in PAPER_SHARES.items():
        got = shares_of_v1.get(kind, (0.0, 0.0))
        lines.append(f"| {kind} | {macs:.2f}% | {got[0]:.2f}% | {params:.2f}% | {got[1]:.2f}% |")
    return "\n".join(lines) + "\n"


@renderer("paper", "json")
def paper_json(tables) -> str:
    return json.dumps(tables.to_dict(), indent=1) + "\n"
