"""How a result shows itself: `print(result)` and a notebook's `_repr_html_`. They ask the render
stage's registry (flopbench/render/registry.py), the one place that knows which renderer draws a
kind in a format; it is imported when a result is first shown, so results never import render."""
from __future__ import annotations

import importlib
from typing import Any


def _registry():
    return importlib.import_module("flopbench.render.registry")


def as_text(result: Any) -> str:
    """The result as the terminal shows it (a table and its notes)."""
    return _registry().as_text(result)


def as_html(result: Any) -> str:
    """The result as HTML, for Jupyter."""
    return _registry().as_html(result)
