"""The CPU's data caches as the OS describes them (/sys/devices/system/cpu/cpu*/cache/index*): the
levels, and how many bytes each holds over the cores this process may use.

A private level (one L1 or L2 per core) holds as much as its instances on those cores together:
an engine spreads a node's tensor over its threads, one slice per core. A shared level (the L3)
counts once."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SYSFS_CPUS = Path("/sys/devices/system/cpu")


@dataclass(frozen=True)
class CacheSize:
    level: int  # 1, 2, 3 ...
    bytes: int  # over the usable cores: per-core size × the instances they have
    instance_bytes: int  # one instance, as /sys says
    instances: int

    @property
    def name(self) -> str:
        return f"L{self.level}"


def parse_size(text: str) -> int:
    """'48K' / '1024K' / '32M' (sysfs's way) in bytes."""
    text = text.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    return int(text[:-1] if text[-1:] in "KMG" else text) * scale


def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def data_caches(root: Path = SYSFS_CPUS, cpus: list[int] | None = None) -> tuple[CacheSize, ...]:
    """Each data (or unified) cache level, smallest first; () when the OS does not say."""
    instances: dict[int, dict[str, int]] = {}  # level -> the CPUs sharing one instance -> its size
    for cpu in usable_cpus() if cpus is None else cpus:
        for index in sorted((root / f"cpu{cpu}" / "cache").glob("index*")):
            try:
                kind = (index / "type").read_text().strip()
                if kind not in ("Data", "Unified"):
                    continue
                level = int((index / "level").read_text())
                size = parse_size((index / "size").read_text())
                shared = (index / "shared_cpu_list").read_text().strip()
            except (OSError, ValueError):
                continue
            instances.setdefault(level, {})[shared] = size
    return tuple(CacheSize(level=level, bytes=sum(sizes.values()), instance_bytes=max(sizes.values()),
                           instances=len(sizes))
                 for level, sizes in sorted(instances.items()))
