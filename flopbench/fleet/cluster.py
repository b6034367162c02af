"""The Ray cluster a fleet runs on: connecting (or starting a local one), and its nodes.

Each node that may measure advertises one measurement slot, the custom resource `MEASURE_SLOT`
(`ray start ... --resources='{"flopbench_measure": 1}'`); every measuring task takes it, so two
measurements never share a machine, even from two drivers. Ray is imported only here and in the
modules that run tasks, so `import flopbench` works without it.
"""
from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
import socket
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..errors import FleetError

MEASURE_SLOT = "flopbench_measure"
INSTALL_FIX = 'install it: pip install "flopbench[fleet]"'
START_FIX = ("start each node with one measurement slot: ray start --head --resources='{\"flopbench_measure\": 1}' "
             "(then ray start --address HEAD:6379 --resources='{\"flopbench_measure\": 1}' on the others)")
CONNECT_TIMEOUT_S = 5.0


def require_ray():
    """The `ray` module, or an error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise FleetError("Ray is not installed, and flopbench fleet runs on a Ray cluster", INSTALL_FIX) from None
    return ray


def _check_reachable(address: str) -> None:
    """Ray's own connect retries for minutes on a wrong address; a plain TCP connect says at once."""
    if address.startswith("ray://") or address == "auto":
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise FleetError(f"--address {address!r} has no port", "give HOST:PORT, e.g. --address 10.0.0.5:6379")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise FleetError(f"cannot reach a Ray cluster at {address} ({exc.strerror or exc})",
                         "start one with ray start --head, or give the address ray start printed") from None


@contextmanager
def _signals_stay_ours(ray) -> Iterator[None]:
    """While ray.init starts or joins a cluster, SIGINT and SIGTERM keep the command's handlers, so
    either stops the start as Ctrl-C does. Left to itself, ray.init puts its own SIGTERM handlers in
    (Python ones that exit 15 or 1 with no results written) and, as the driver's core worker starts,
    a native one that dumps a stack and aborts (exit -6, the local Ray's processes left running).
    Ray keeps both switches as module attributes, looked up when used: they are set for the call
    and put back after it."""
    kept = {}
    if threading.current_thread() is threading.main_thread():
        kept = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    private = getattr(ray, "_private", None)
    switches = [(getattr(private, "ray_constants", None), "RAY_DISABLE_FAILURE_SIGNAL_HANDLER", True),
                (getattr(private, "utils", None), "set_sigterm_handler", lambda handler: None)]
    previous = []
    for module, name, value in switches:
        if module is not None and hasattr(module, name):
            previous.append((module, name, getattr(module, name)))
            setattr(module, name, value)
    try:
        yield
    finally:
        for module, name, value in previous:
            setattr(module, name, value)
        for signum, handler in kept.items():
            if handler is not None:
                signal.signal(signum, handler)


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """A shutdown that a second Ctrl-C cut short would leave Ray's processes running: SIGINT and
    SIGTERM are ignored while it runs (the run is already stopping, or its results are written)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kept = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in kept.items():
            if handler is not None:
                signal.signal(signum, handler)


def _shut_down(ray, local: bool = False) -> None:
    """ray.shutdown(); for a local Ray this run started, also every Ray process below this one that
    outlives it (a dashboard agent its raylet spawned as a signal stopped the start lingered 30 s),
    read before the shutdown and again after it (one spawned meanwhile, its parent gone, is still
    below: this process reaps the local Ray's orphans while it runs, `_orphans_kept`), then reaped."""
    with _signals_ignored():
        below = _ray_processes_below(os.getpid()) if local else set()
        ray.shutdown()
        if local:
            below |= _ray_processes_below(os.getpid())
        _end(below)
        for pid in below:  # an orphan re-parented here is this process's child: no zombie left behind
            try:
                os.waitpid(pid, os.WNOHANG)
            except (ChildProcessError, OSError):
                pass


@contextmanager
def _orphans_kept() -> Iterator[None]:
    """While a local Ray runs, a process whose parent ends (the dashboard agent of a raylet stopped
    as it spawned it) is re-parented to this process, not to init (Linux: a child subreaper), so
    the shutdown still finds it below this one. Elsewhere, nothing changes."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        yield
        return
    PR_SET_CHILD_SUBREAPER = 36
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        yield
    finally:
        prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def _ray_processes_below(pid: int) -> set[int]:
    """The pids of Ray's processes (raylet, gcs_server, ray::…) below `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat_file.read_text()
        except OSError:
            continue
        child = int(stat_file.parent.name)
        names[child] = text[text.index("(") + 1:text.rindex(")")]
        children.setdefault(int(text.rsplit(")", 1)[1].split()[1]), []).append(child)
    found, pending = set(), [pid]
    while pending:
        for child in children.get(pending.pop(), ()):
            pending.append(child)
            if names[child].startswith(("ray", "gcs_server", "raylet")) or "ray" in names[child].lower():
                found.add(child)
    return found


def _end(pids: set[int], grace_s: float = 3.0) -> None:
    """SIGTERM what is still alive of `pids`, then SIGKILL what outlives the grace."""
    import time

    def alive() -> list[int]:
        living = []
        for pid in pids:
            try:
                if "zombie" not in Path(f"/proc/{pid}/status").read_text():
                    living.append(pid)
            except OSError:
                pass
        return living

    for signum in (signal.SIGTERM, signal.SIGKILL):
        for pid in alive():
            try:
                os.kill(pid, signum)
            except OSError:
                pass
        deadline = time.monotonic() + grace_s
        while alive() and time.monotonic() < deadline:
            time.sleep(0.05)


@contextmanager
def connected(address: str | None = None, local_cpus: int | None = None) -> Iterator[str]:
    """Connected to the Ray cluster at `address`, or to a local Ray started for this run (this
    machine, one measurement slot). Already connected (a caller's own ray.init): used as it is.
    Yields where the run happens: the address, or "local". A signal while Ray starts stops the
    start: what it had started is shut down before the interruption goes on."""
    ray = require_ray()
    if ray.is_initialized():
        yield address or ray.get_runtime_context().gcs_address
        return
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False, "configure_logging": True}
    if address:
        _check_reachable(address)
    with nullcontext() if address else _orphans_kept():
        yield from _connected(ray, address, local_cpus, quiet)


def _connected(ray, address: str | None, local_cpus: int | None, quiet: dict[str, Any]) -> Iterator[str]:
    try:
        with _signals_stay_ours(ray):
            if address:
                try:
                    ray.init(address=address, **quiet)
                except (ConnectionError, RuntimeError, ValueError) as exc:
                    raise FleetError(f"cannot connect to the Ray cluster at {address} "
                                     f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})",
                                     "check --address: it is what ray start --head printed (HOST:6379)") from None
            else:
                # "local": a Ray of its own, even when another cluster runs on this machine (ray.init would join that one)
                ray.init(address="local", num_cpus=local_cpus or os.cpu_count() or 1, resources={MEASURE_SLOT: 1},
                         include_dashboard=False, **quiet)
    except BaseException:
        # a half-started Ray (its GCS and raylet up, the driver not yet connected) is stopped here,
        # not by Ray's exit hook while Python tears itself down
        _shut_down(ray, local=not address)
        raise
    try:
        yield address or "local"
    finally:
        _shut_down(ray, local=not address)
        if not address:
            _remove_what_the_workers_left()


def _remove_what_the_workers_left(wait_s: float = 2.0) -> None:
    """The folders that the local Ray's workers unpacked points into and were ended before they
    could remove (a stopped run's running point): each is free once its worker has exited, which
    follows Ray's shutdown by moments. A folder still held then is another run's, left to it."""
    from ..results.writing import remove_abandoned
    from .shipping import POINT_PREFIX, private_root

    try:
        root = private_root()
    except FleetError:  # never made private: nothing was unpacked there
        return
    deadline = time.monotonic() + wait_s
    with _signals_ignored():
        while remove_abandoned(POINT_PREFIX, root) and time.monotonic() < deadline:
            time.sleep(0.1)


@dataclass(frozen=True)
class FleetNode:
    """One alive node of the cluster, as Ray lists it."""

    node_id: str
    address: str
    hostname: str
    resources: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def short_id(self) -> str:
        return self.node_id[:8]

    @property
    def slots(self) -> int:
        return int(self.resources.get(MEASURE_SLOT, 0))

    @property
    def cpus(self) -> int:
        return max(1, int(self.resources.get("CPU", 1)))

    def describe(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "address": self.address, "hostname": self.hostname}


def alive_nodes(resource: str | None = None, measuring: bool = True) -> list[FleetNode]:
    """The alive nodes with a measurement slot (when `measuring`) and `resource` (when named)."""
    ray = require_ray()
    found = []
    for node in ray.nodes():
        resources = node.get("Resources") or {}
        if not node.get("Alive"):
            continue
        if measuring and resources.get(MEASURE_SLOT, 0) < 1:
            continue
        if resource and resources.get(resource, 0) <= 0:
            continue
        found.append(FleetNode(node_id=node["NodeID"], address=node.get("NodeManagerAddress", ""),
                               hostname=node.get("NodeManagerHostname", ""), resources=dict(resources)))
    return sorted(found, key=lambda n: (n.address, n.node_id))


def require_nodes(resource: str | None = None, measuring: bool = True) -> list[FleetNode]:
    nodes = alive_nodes(resource, measuring)
    if nodes:
        return nodes
    if resource:
        raise FleetError(f"no alive node of the cluster carries the resource {resource!r}"
                         + (f" and a measurement slot ({MEASURE_SLOT})" if measuring else ""),
                         f"start the nodes with --resources='{{\"{resource}\": 1, \"{MEASURE_SLOT}\": 1}}', or drop --resource")
    raise FleetError(f"no alive node of the cluster offers a measurement slot (the Ray resource {MEASURE_SLOT})", START_FIX)


def current_node_id() -> str | None:
    """The Ray node this runs on; None outside Ray (asking Ray would start a local instance)."""
    ray = require_ray()
    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
