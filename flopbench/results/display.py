"""How a result shows itself: `print(result)` and a notebook's `_repr_html_`. The renderers register
here by result class; a result asks here, so results never import the render stage."""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

# result class name -> the render module that registers its views (imported when first shown)
RENDER_MODULES = {"ModelCost": "flopbench.render.cost", "BenchReport": "flopbench.render.bench"}
_VIEWS: dict[str, tuple[Callable[[Any], str], Callable[[Any], str]]] = {}


def register_display(class_name: str, text: Callable[[Any], str], html: Callable[[Any], str]) -> None:
    _VIEWS[class_name] = (text, html)


def _views(result: Any) -> tuple[Callable[[Any], str], Callable[[Any], str]]:
    name = type(result).__name__
    if name not in _VIEWS and name in RENDER_MODULES:
        importlib.import_module(RENDER_MODULES[name])
    return _VIEWS[name]


def as_text(result: Any) -> str:
    """The result as the terminal shows it (a table and its notes)."""
    return _views(result)[0](result)


def as_html(result: Any) -> str:
    """The result as an HTML table, for Jupyter."""
    return _views(result)[1](result)
