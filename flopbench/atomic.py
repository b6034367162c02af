"""Write files a user keeps so that a crash mid-write never leaves a half file behind."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import OutputError


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early, before a long run, if `path` cannot be written."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise OutputError(f"output path {target} is a directory", "give a file name, e.g. -o results.json")
    if not folder.is_dir():
        raise OutputError(f"output folder {folder} does not exist", f"create it first (mkdir -p {folder}) or write elsewhere")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"output folder {folder} is not writable", "choose a folder you can write to")
    return target


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    target = check_writable(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent if str(target.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))
