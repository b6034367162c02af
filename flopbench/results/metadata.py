"""What a result must carry to be compared later: machine, versions."""
from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from ..version import __version__


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _version(package: str) -> str | None:
    # imported here: importlib.metadata (with email) and socket cost ~10 ms of a count's process start
    from importlib import metadata as importlib_metadata

    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def machine_metadata() -> dict[str, Any]:
    from ..measure.engines import engine_packages  # results/ is read by every stage: the engines load on use
    flags = cpu_flags()
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "isa": sorted(f for f in flags if f.startswith(("avx512", "avx2", "amx", "fma")))[:20],
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {"flopbench": __version__, **{name: _version(name) for name in (*engine_packages(), "onnx", "numpy")}},
    }


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ResultMetadata(Mapping):
    """What every result carries: the machine, its host name, the versions, and when (UTC) it was made.

    The host name and the time are taken when the result is made; the machine's facts (CPU, package
    versions) are the same for the whole process, so they are read when first asked for: a count
    printed to the terminal never pays for looking up package versions."""

    def __init__(self, **extra: Any):
        import socket

        self._stamp = {"hostname": socket.gethostname(), "measured_at": utc_now(), **extra}
        self._full: dict[str, Any] | None = None

    def _data(self) -> dict[str, Any]:
        if self._full is None:
            self._full = {**machine_metadata(), **self._stamp}
        return self._full

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __repr__(self) -> str:
        return f"ResultMetadata({self._stamp!r})"


def result_metadata(**extra: Any) -> ResultMetadata:
    """The metadata of a result made now (`extra`: what this kind of result adds)."""
    return ResultMetadata(**extra)
