"""Which function draws a result kind in an output format. Each renderer registers itself for
its (kind, format) pair with `@renderer("bench", "markdown")`; the CLI, `print(result)` and a
notebook's `_repr_html_` ask here, so no module chooses a format by comparing strings. A new
format is one registration per kind it serves; a new kind is one module listed in KINDS.

Formats: "table" (a `TextTable` or a rich renderable for a terminal), "json", "csv", "markdown"
(text), "html" (an HTML table for a notebook, or the whole page of the kinds that have one)."""
from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from ..errors import OptionError

# kind -> (the module whose import registers the kind's renderers, the class names of its results)
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "count": ("flopbench.render.cost", ("ModelCost",)),
    "bench": ("flopbench.render.bench", ("BenchReport",)),
    "profile": ("flopbench.render.profile", ("ProfileResult",)),
    "machine": ("flopbench.render.machine", ("Machine",)),
    "predict": ("flopbench.render.predict", ("PredictResult",)),
    "compare": ("flopbench.render.compare", ("Comparison",)),
    "study": ("flopbench.render.study", ("SweepResult",)),
    "paper": ("flopbench.render.paper", ("PaperTables",)),
    "report": ("flopbench.render.report", ("ReportContent",)),
}
TEXT_VIEW, HTML_VIEW = "table", "html"  # what print(result) and a notebook show

_RENDERERS: dict[tuple[str, str], Callable[..., Any]] = {}


def renderer(kind: str, fmt: str):
    """Register the decorated function as the renderer of `kind` in `fmt`."""
    if kind not in KINDS:
        raise ValueError(f"unknown result kind {kind!r}: list it in render/registry.py KINDS")

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        _RENDERERS[(kind, fmt)] = function
        return function

    return register


def _load(kind: str) -> None:
    importlib.import_module(KINDS[kind][0])


def formats(kind: str) -> tuple[str, ...]:
    """The formats `kind` renders in, in the order its module registered them."""
    _load(kind)
    return tuple(fmt for (k, fmt) in _RENDERERS if k == kind)


def check_format(kind: str, fmt: str) -> str:
    """`fmt` when `kind` renders in it; else a one-line error listing the formats it has."""
    known = formats(kind)
    if fmt not in known:
        raise OptionError(f"unknown format {fmt!r}", f"choose one of: {', '.join(known)}")
    return fmt


def render(kind: str, fmt: str, result: Any, **options: Any) -> Any:
    """`result` in `fmt`: text, or a renderable for "table". Each renderer is given the options
    it takes (a view, a memory budget ...) and no others."""
    function = _RENDERERS.get((kind, check_format(kind, fmt)))
    accepted = inspect.signature(function).parameters
    return function(result, **{name: value for name, value in options.items() if name in accepted})


def kind_of(result: Any) -> str:
    name = type(result).__name__
    for kind, (_, classes) in KINDS.items():
        if name in classes:
            return kind
    raise TypeError(f"flopbench has no renderer for a {name}")


def as_text(result: Any) -> str:
    """A result as the terminal shows it (its table and notes), for `print(result)`."""
    from .text import render_text

    return render_text(render(kind_of(result), TEXT_VIEW, result))


def as_html(result: Any) -> str:
    """A result as HTML, for a notebook's `_repr_html_`."""
    return render(kind_of(result), HTML_VIEW, result)
