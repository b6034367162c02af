"""Where each result kind is declared, found in flopbench's own source rather than listed by hand.

A kind is declared once, by `@result_kind("count", ...)` on its dataclass; this module finds those
declarations in the package's files, so a new kind is read back by `load_result` with nothing else
to register. A kind's module is imported only when a document of that kind is read.
"""
from __future__ import annotations

import importlib
import re
from functools import lru_cache
from pathlib import Path

from .codec import Kind, registered_kinds

PACKAGE = Path(__file__).resolve().parent.parent
DECLARATION = re.compile(r'^@result_kind\(\s*"([\w-]+)"', re.MULTILINE)


@lru_cache(maxsize=1)
def kind_modules() -> dict[str, str]:
    """Kind name -> the module that declares it ("count" -> "flopbench.counting.cost")."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "@result_kind(" not in text:
            continue
        module = ".".join((PACKAGE.name, *path.relative_to(PACKAGE).with_suffix("").parts))
        for name in DECLARATION.findall(text):
            if name in found:
                raise ValueError(f"result kind {name!r} is declared in {found[name]} and in {module}")
            found[name] = module
    return found


def kind(name: str) -> Kind | None:
    """The registered kind `name`, its module imported first; None for a kind flopbench lacks."""
    module = kind_modules().get(name)
    if module is None:
        return None
    importlib.import_module(module)
    return registered_kinds().get(name)


def all_kinds() -> dict[str, Kind]:
    """Every result kind flopbench writes, by name (their modules imported)."""
    for module in dict.fromkeys(kind_modules().values()):
        importlib.import_module(module)
    return registered_kinds()
