"""Write files a user keeps so that a crash mid-write never leaves a half file behind.

Every file goes to a hidden temporary file in the target's own folder (same file system), is
flushed and fsync'ed, then renamed over the target: a reader sees the old file or the new one,
never a mix, and a crash or Ctrl-C mid-write leaves the old file as it was. Any OSError on the way
(disk full, read-only file system, a folder that vanished) becomes an `OutputError`.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ..errors import OutputError

_WRITE_FIX = "choose a folder you can write to"


def _folder(target: Path) -> Path:
    return target.parent if str(target.parent) else Path(".")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_writable(path: str | os.PathLike, protect: Iterable[str | os.PathLike] = ()) -> Path:
    """Fail early, before a long run, if `path` cannot be written: the folder must exist and take a
    new file (tried for real, so it also holds for root and for read-only or virtual file systems).
    `protect` lists the files the command reads (the model, its weights, its inputs): an output
    that is one of them is refused, since writing it would destroy the input. A symbolic link is
    followed: its target is written, the link stays."""
    if not str(path):
        raise OutputError("the output path is empty", "give a file name, e.g. -o results.json")
    target = Path(path)
    if len(target.name.encode(errors="surrogateescape")) > 255:
        raise OutputError(f"output file name {target.name[:40]}... is {len(target.name)} characters: file name too long",
                          "give a file name of at most 255 bytes")
    try:
        if target.is_symlink():
            target = Path(os.path.realpath(target))
        os.stat(_folder(target))  # a name the file system refuses (too long, a NUL) is refused here, by name
    except FileNotFoundError:
        pass  # said below, with the fix
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot use output path {path} ({getattr(exc, 'strerror', None) or exc})", _WRITE_FIX) from None
    for source in protect:
        if _same_file(target, Path(source)):
            raise OutputError(f"output path {path} is an input of this command ({Path(source).name}); writing it would destroy the input",
                              "choose another output file")
    folder = _folder(target)
    try:
        if target.is_dir():
            raise OutputError(f"output path {target} is a folder", "give a file name, e.g. -o results.json")
        folder_info = folder.stat()
    except FileNotFoundError:
        raise OutputError(f"output folder {folder} does not exist", f"create it first (mkdir -p {folder}) or write elsewhere") from None
    except NotADirectoryError:
        raise OutputError(f"output folder {folder} is not a folder: part of the path is a file", "write the output elsewhere") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise OutputError(f"cannot use output path {target} ({getattr(exc, 'strerror', None) or exc})", _WRITE_FIX) from None
    if not stat.S_ISDIR(folder_info.st_mode):
        raise OutputError(f"output folder {folder} is not a folder: it is a file", "write the output elsewhere")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"output folder {folder} is not writable", _WRITE_FIX)
    try:  # root passes os.access everywhere; /proc, /sys and read-only mounts still refuse a file
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write in output folder {folder} ({_reason(exc)})", _WRITE_FIX) from None
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass
    return target


class OutputLock:
    """An exclusive lock on an output for as long as a run writes it: the hidden file `.NAME.lock`
    beside the output, locked with flock (the kernel releases it if the process dies) and holding
    who has it. `release()` removes the file."""

    def __init__(self, fd: int, path: Path):
        self.fd, self.path = fd, path

    def release(self) -> None:
        if self.fd < 0:
            return
        try:
            os.unlink(self.path)  # while still locked: a run that opened it before finds it gone and retries
        except OSError:
            pass
        os.close(self.fd)
        self.fd = -1


def lock_output(path: str | os.PathLike, holder: str) -> OutputLock | None:
    """Take the output's lock, or refuse naming who holds it; None for what is no regular file
    (a device such as /dev/null is nobody's results)."""
    import fcntl

    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_file():
        return None
    lock_path = _folder(target) / f".{target.name}.lock"
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise OutputError(f"cannot lock output {path} ({_reason(exc)})", _WRITE_FIX) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            who = os.pread(fd, 400, 0).decode("utf-8", "replace").strip() or "a process that has not said who it is yet"
            os.close(fd)
            raise OutputError(f"{path} is being written by another flopbench run ({who})",
                              "wait for that run to end, or write elsewhere") from None
        try:
            current = os.stat(lock_path).st_ino
        except OSError:
            current = None
        if current == os.fstat(fd).st_ino:
            break
        os.close(fd)  # its holder ended and removed it between our open and our lock: take a fresh one
    os.ftruncate(fd, 0)
    os.pwrite(fd, holder.encode("utf-8", "replace"), 0)
    return OutputLock(fd, lock_path)


def _new_file_mode(target: Path) -> int:
    """The permissions the file would get from a plain open(): the old file's, else 0666 & ~umask
    (mkstemp's files are 0600, which would hide results from everyone else)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    target = check_writable(path)
    folder = _folder(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {target} ({_reason(exc)})", _WRITE_FIX) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.chmod(tmp, _new_file_mode(target))
        except OSError:
            pass
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {target} ({_reason(exc)}); the old file, if any, is unchanged", _WRITE_FIX) from None
        raise
    try:  # make the rename itself durable; not every file system lets a folder be opened
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return target
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return target


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8", errors="surrogateescape"))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def staged_files(folder: str | os.PathLike, names: Sequence[str], protect: Iterable[str | os.PathLike] = ()):
    """Write several files that belong together (an IR's .bin and .xml, a model and its sample
    input) atomically: yield {name: staged path} in a hidden folder beside the targets, and on
    success move each into place in the order given (so put an IR's .bin before its .xml: whoever
    sees the new .xml finds its weights in place). On any error nothing is replaced."""
    target_folder = Path(folder)
    try:
        target_folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {target_folder} ({_reason(exc)})", _WRITE_FIX) from None
    protected = list(protect)
    targets = {name: check_writable(target_folder / name, protect=protected) for name in names}
    try:
        stage = Path(tempfile.mkdtemp(prefix=".flopbench.", suffix=".tmp", dir=target_folder))
    except OSError as exc:
        raise OutputError(f"cannot write in folder {target_folder} ({_reason(exc)})", _WRITE_FIX) from None
    try:
        staged = {name: stage / name for name in names}
        yield staged
        for name in names:
            _fsync(staged[name])
        for name in names:
            os.chmod(staged[name], _new_file_mode(targets[name]))
            os.replace(staged[name], targets[name])
    except OSError as exc:
        raise OutputError(f"cannot write {', '.join(names)} to {target_folder} ({_reason(exc)})",
                          "check free disk space and permissions") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def save_openvino_model(model, xml_path: str | os.PathLike, protect: Iterable[str | os.PathLike] = ()) -> tuple[Path, Path]:
    """An `openvino.Model` as IR (.xml + .bin, f32 weights kept), written atomically."""
    import openvino as ov

    xml = Path(xml_path)
    with staged_files(xml.parent, [xml.with_suffix(".bin").name, xml.name], protect) as staged:
        ov.save_model(model, str(staged[xml.name]), compress_to_fp16=False)
    return xml, xml.with_suffix(".bin")


def save_onnx_model(proto, path: str | os.PathLike, protect: Iterable[str | os.PathLike] = ()) -> Path:
    """An `onnx.ModelProto` written atomically."""
    import onnx

    target = Path(path)
    with staged_files(target.parent, [target.name], protect) as staged:
        onnx.save(proto, str(staged[target.name]))
    return target


# ---- temporary folders that no process outlives ----------------------------------------------------
# A folder removed in a `finally` or a finalizer outlives a process killed by SIGKILL (a Ray worker
# ended with its cluster, the OOM killer), which no code in it can catch. So a held folder keeps a
# lock file locked while its process lives; the kernel lets go of the lock when the process ends,
# however it ends, and the next held folder made beside it removes every one whose lock is free.

HOLD_FILE = ".held"


def held_folder(prefix: str, parent: str | os.PathLike | None = None) -> tuple[Path, Callable[[], None]]:
    """A new folder `prefix`XXXX in `parent` (the temporary folder) held by this process, and the
    function that removes it (safe to call twice). Folders of the same prefix that a dead process
    held are removed first."""
    import fcntl

    where = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    remove_abandoned(prefix, where)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=where))
    # locked before it takes its name, so no one ever sees the lock file unlocked while we live
    staged = folder / (HOLD_FILE + ".new")
    handle = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    fcntl.flock(handle, fcntl.LOCK_EX)
    os.rename(staged, folder / HOLD_FILE)
    held = [handle]

    def remove() -> None:
        shutil.rmtree(folder, ignore_errors=True)
        if held:
            os.close(held.pop())
    return folder, remove


def remove_abandoned(prefix: str, parent: str | os.PathLike) -> int:
    """Remove this user's held folders `prefix`* in `parent` whose holder has ended (their lock is
    free); a folder without a lock file, or another user's, is left alone. How many are still held."""
    import fcntl

    try:
        entries = [entry for entry in os.scandir(parent) if entry.name.startswith(prefix)]
    except OSError:
        return 0
    held = 0
    for entry in entries:
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            handle = os.open(os.path.join(entry.path, HOLD_FILE), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its process lives
            held += 1
            continue
        finally:
            os.close(handle)
        shutil.rmtree(entry.path, ignore_errors=True)
    return held
