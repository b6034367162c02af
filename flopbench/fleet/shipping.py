"""Models and input arrays travel to the nodes by content, not by a path only the driver has.

The driver reads a model's files (an IR's .xml and .bin, an ONNX file and its external data), or an
`-i` array file, into a package; Ray's object store carries it to each node once; the node writes it
under its temporary folder, named by the content's hash, so a file is unpacked once per node however
many points use it, and two files with one name never collide.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputDataError, ModelFileError
from ..model.reading import source_files
from ..results.writing import write_bytes_atomic

MAX_PACKAGE_BYTES = 2 << 30  # Ray's object store copes; beyond this, copy the model to the nodes yourself


@dataclass(frozen=True)
class ModelPackage:
    """A model's files by content: `files[0]` is the one to read."""

    files: tuple[tuple[str, bytes], ...]
    digest: str

    @property
    def name(self) -> str:
        return self.files[0][0]

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.files)


def _model_files(path: Path) -> list[Path]:
    files = list(source_files(path))
    if path.suffix.lower() == ".onnx":
        from ..model.onnx_twin import weightless_twin

        files += [path.parent / name for name in weightless_twin(path).external_files]
    return files


def pack_model(path: str | os.PathLike) -> ModelPackage:
    """Read the files of the model at `path` (already checked by loading it) into a package."""
    model = Path(path)
    files = _model_files(model)
    total = sum(f.stat().st_size for f in files)
    if total > MAX_PACKAGE_BYTES:
        raise ModelFileError(f"model {model.name} is {total / 2**30:.1f} GiB, too large to send to the nodes by content",
                             "copy it to every node and run flopbench bench there")
    digest = hashlib.sha256()
    contents = []
    for index, file in enumerate(files):
        data = file.read_bytes()
        # external data names are relative to the model's folder (the reader refuses any outside it)
        name = file.name if index == 0 else os.path.relpath(file, model.parent)
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        contents.append((name, data))
    return ModelPackage(files=tuple(contents), digest=digest.hexdigest()[:24])


def unpack_model(package: ModelPackage, root: str | os.PathLike | None = None) -> Path:
    """The package's files on this node (written once, atomically); the path of the model file."""
    folder = Path(root or tempfile.gettempdir()) / "flopbench-fleet" / package.digest
    for name, data in package.files:
        target = folder / name
        if target.is_file() and target.stat().st_size == len(data):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(target, data)
    return folder / package.name


def pack_input(path: str | os.PathLike) -> ModelPackage:
    """An `-i` array file by content; read as an array first, so a missing or broken file fails here."""
    from ..measure.inputs import read_npy

    file = Path(path)
    read_npy(file)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputDataError(f"cannot read input {file} ({exc.strerror or exc})", "give a readable .npy file") from None
    if len(data) > MAX_PACKAGE_BYTES:
        raise ModelFileError(f"input {file.name} is {len(data) / 2**30:.1f} GiB, too large to send to the nodes by content",
                             "give a smaller input, or copy it to every node and run flopbench bench there")
    digest = hashlib.sha256(file.name.encode() + b"\0" + data).hexdigest()[:24]
    return ModelPackage(files=((file.name, data),), digest=digest)


def unpack_input(name: str, package: ModelPackage, root: str | os.PathLike | None = None) -> str:
    """The `-i` spec of a shipped input on this node: its file written here, under the same name."""
    path = unpack_model(package, root)
    return f"{name}:{path}" if name else str(path)
