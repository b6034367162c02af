"""Models and input arrays travel to the nodes by content, not by a path only the driver has.

The driver reads a model's files (an IR's .xml and .bin, an ONNX file and its external data, which
the reader keeps inside the model's folder), or an `-i` array file, into a package named by its
content's hash; Ray's object store carries it to each node once. On the node, each point writes the
packages it uses into a fresh folder of its own inside the user's private folder (mode 700, owned
by the user, checked: another user of a shared node can plant nothing there), after checking the
bytes against their hash, and removes that folder when the point ends.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import FleetError, InputDataError, ModelFileError
from ..model.reading import source_files
from ..results.writing import held_folder

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


def _model_files(path: Path) -> list[tuple[str, Path]]:
    """(name in the package, file on the driver): the model file first, then its companions."""
    files = [(path.name, path)] + [(companion.name, companion) for companion in source_files(path)[1:]]
    if path.suffix.lower() == ".onnx":
        from ..model.onnx_twin import check_inside_folder, weightless_twin

        # external data names are relative to the model's folder; the reader refuses any that
        # resolves outside it, and the file is read at the place that check resolved
        files += [(name, check_inside_folder(path, name)) for name in weightless_twin(path).external_files]
    return files


def _digest(files: Sequence[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:24]


def pack_model(path: str | os.PathLike) -> ModelPackage:
    """Read the files of the model at `path` (already checked by loading it) into a package."""
    model = Path(path)
    files = _model_files(model)
    total = sum(f.stat().st_size for _, f in files)
    if total > MAX_PACKAGE_BYTES:
        raise ModelFileError(f"model {model.name} is {total / 2**30:.1f} GiB, too large to send to the nodes by content",
                             "copy it to every node and run flopbench bench there")
    contents = tuple((name, file.read_bytes()) for name, file in files)
    return ModelPackage(files=contents, digest=_digest(contents))


def private_root() -> Path:
    """This user's folder for unpacked packages under the temporary folder: created mode 700, and
    refused when it is a symlink, another user's, or open to others (someone could plant files)."""
    root = Path(tempfile.gettempdir()) / f"flopbench-fleet-{os.getuid()}"
    try:
        os.mkdir(root, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise FleetError(f"cannot create the node's folder {root} ({exc.strerror or exc})", "check the temporary folder (TMPDIR) on the node") from None
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        kind = "a symlink" if stat.S_ISLNK(info.st_mode) else "not a folder" if not stat.S_ISDIR(info.st_mode) else \
            f"owned by uid {info.st_uid}" if info.st_uid != os.getuid() else f"open to others (mode {stat.S_IMODE(info.st_mode):o})"
        raise FleetError(f"the node's folder {root} is {kind}, so another user could plant files in it",
                         f"remove it on that node (flopbench creates it again, private), or set TMPDIR to a folder of your own")
    return root


POINT_PREFIX = "point-"


@contextlib.contextmanager
def point_folder() -> Iterator[Path]:
    """A fresh, private folder for one point's unpacked files, removed when the point ends. A point
    whose worker was killed (Ray ends a stopped run's workers, a node lost mid-point) cannot remove
    its own: the folder is held while its process lives, and the next point on the node removes it."""
    folder, remove = held_folder(POINT_PREFIX, private_root())
    try:
        yield folder
    finally:
        remove()


def _safe_name(name: str) -> PurePosixPath:
    relative = PurePosixPath(name)
    if not name or relative.is_absolute() or ".." in relative.parts or "\0" in name:
        raise FleetError(f"a shipped file is named {name!r}, which is not a plain relative name", "ship packages made by pack_model")
    return relative


def unpack_model(package: ModelPackage, folder: str | os.PathLike) -> Path:
    """The package's files written into `folder` (a `point_folder`), after checking them against
    their hash; the path of the model file. A file is created new, never through a link."""
    if _digest(package.files) != package.digest:
        raise FleetError(f"the shipped files of {package.name} do not match their hash", "run the command again")
    home = Path(folder) / package.digest
    if home.is_dir():  # unpacked already for this point (one array for two inputs): the folder is the point's own
        return home / package.name
    for name, data in package.files:
        target = home / _safe_name(name)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
    return home / package.name


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
    files = ((file.name, data),)
    return ModelPackage(files=files, digest=_digest(files))


def unpack_input(name: str, package: ModelPackage, folder: str | os.PathLike) -> str:
    """The `-i` spec of a shipped input on this node: its file written into `folder`, under the same name."""
    path = unpack_model(package, folder)
    return f"{name}:{path}" if name else str(path)
