"""Points spread over the cluster's nodes: one measurement per node at a time, nothing lost.

The driver places each point on a node itself (Ray's node affinity), so it knows what runs where:
a node holds at most one measuring point running and one waiting behind it (the slot never idles
while the driver answers), and every measuring task also takes the node's measurement slot, so even
another driver cannot measure beside it. A point's own failure is recorded with its reason; a node
or worker that dies mid-point has the point tried again on another node (up to `retries` times) or
recorded failed with every reason. Each ended point is written before the next is waited for.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import OptionError, one_line
from ..results.documents import machine_differences
from ..results.status import DONE, FAILED
from .cluster import MEASURE_SLOT, FleetNode, alive_nodes, require_ray
from .points import point_key
from .records import Attempt, FleetLog, FleetPointRecord, FleetResult
from .tasks import describe_node, run_point_on_node

REFRESH_S = 2.0          # how often the driver looks for nodes that joined or died
PROBE_TIMEOUT_S = 120.0  # a new node's first worker may take a while to start
NO_NODE_GRACE_S = 30.0   # with points left and no node to run them, wait this long for one to join
QUEUED_PER_SLOT = 2      # one running, one waiting behind it on the node


@dataclass
class NodeProgress:
    label: str
    done: int = 0
    failed: int = 0
    running: int = 0


@dataclass
class SweepProgress:
    """Where a fleet run stands; handed to the progress callback after every change."""

    total: int
    skipped: int
    done: int = 0
    failed: int = 0
    nodes: dict[str, NodeProgress] = field(default_factory=dict)
    last: str | None = None  # one line about the point that just ended, or a note

    @property
    def running(self) -> int:
        return sum(n.running for n in self.nodes.values())


@dataclass
class _Node:
    node: FleetNode
    capacity: int
    machine: dict[str, Any]
    eligible: bool = True
    alive: bool = True
    in_flight: int = 0


@dataclass
class _Pending:
    point: dict[str, Any]
    key: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def pinned(self) -> str | None:
        return self.point.get("node_id")

    @property
    def tried_on(self) -> set[str]:
        return {a.node_id for a in self.attempts}


def _system_errors(ray) -> tuple[type, ...]:
    """Ray's exceptions that say the node or the worker went away, not that the point failed."""
    names = ("NodeDiedError", "TaskUnschedulableError", "WorkerCrashedError", "ObjectLostError", "OwnerDiedError",
             "LocalRayletDiedError", "RaySystemError", "ObjectFetchTimedOutError", "ReferenceCountingAssertionError",
             "OutOfMemoryError", "ActorUnschedulableError", "RuntimeEnvSetupError")
    return tuple(getattr(ray.exceptions, name) for name in names if hasattr(ray.exceptions, name))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().split(". ")[0] if str(exc).strip() else ""
    return one_line(f"{type(exc).__name__}: {text}".rstrip(": "), 300)


class Scheduler:
    def __init__(self, points: list[dict[str, Any]], run_point: Callable[[dict[str, Any]], dict[str, Any]], log: FleetLog, *,
                 resource: str | None = None, retries: int = 2, any_machine: bool = False,
                 progress: Callable[[SweepProgress], None] | None = None):
        self.ray = require_ray()
        self.log = log
        self.resource = resource
        self.retries = retries
        self.any_machine = any_machine
        self.measuring = bool(getattr(run_point, "measures", True))
        self.report = progress or (lambda state: None)
        unique: dict[str, dict[str, Any]] = {}
        for point in points:
            unique.setdefault(point_key(point), point)
        done = log.done_keys()
        self.todo: deque[_Pending] = deque(_Pending(p, k) for k, p in unique.items() if k not in done)
        self.state = SweepProgress(total=len(unique), skipped=len(unique) - len(self.todo))
        self.nodes: dict[str, _Node] = {}
        self.in_flight: dict[Any, tuple[_Pending, str]] = {}
        self.run_point_ref = self.ray.put(run_point)
        self.task_options = {"num_cpus": 0 if self.measuring else 1, "resources": {MEASURE_SLOT: 1} if self.measuring else {},
                             "max_retries": 0}
        self.task = self.ray.remote(run_point_on_node)
        self.probe = self.ray.remote(describe_node)
        self.system_errors = _system_errors(self.ray)
        self.kind: dict[str, Any] | None = self._kind_from_log()
        self.last_refresh = 0.0
        self.no_node_since: float | None = None

    # -- nodes ------------------------------------------------------------------------------
    def _kind_from_log(self) -> dict[str, Any] | None:
        """A resumed sweep goes on with the machine kind its done points were measured on."""
        for record in self.log.records.values():
            machine = self.log.nodes.get(record.node_id, {}).get("machine")
            if machine:
                return machine
        return None

    def _note(self, text: str) -> None:
        self.state.last = text
        self.report(self.state)
        self.state.last = None

    def refresh_nodes(self) -> None:
        self.last_refresh = time.monotonic()
        seen = {n.node_id: n for n in alive_nodes(self.resource, self.measuring)}
        for node_id, state in self.nodes.items():
            if state.alive and node_id not in seen:
                state.alive = False
                self._note(f"node {state.node.short_id} ({state.node.hostname}) left the cluster")
        fresh = [n for n in seen.values() if n.node_id not in self.nodes or not self.nodes[n.node_id].alive]
        if not fresh:
            return
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        probes = {self.probe.options(num_cpus=0, max_retries=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n.node_id, soft=False)).remote(): n
                  for n in fresh}
        ready, _ = self.ray.wait(list(probes), num_returns=len(probes), timeout=PROBE_TIMEOUT_S)
        for ref in ready:
            node = probes[ref]
            try:
                described = self.ray.get(ref)
            except self.system_errors:
                continue  # died while starting: seen again, or never, at the next refresh
            capacity = node.slots * QUEUED_PER_SLOT if self.measuring else node.cpus + 1
            self.nodes[node.node_id] = _Node(node=node, capacity=max(1, capacity), machine=described["machine"])
            self.log.note_node(node.node_id, {**node.describe(), "machine": described["machine"]})
            self.state.nodes.setdefault(node.node_id, NodeProgress(label=f"{node.short_id} {node.hostname}"))
        for ref in set(probes) - set(ready):
            self.ray.cancel(ref, force=True)
        self._choose_kind()

    def _choose_kind(self) -> None:
        """Unpinned points go to nodes of one machine kind only (one series); the kind is the
        resumed sweep's, else the one most nodes share."""
        alive = [s for s in self.nodes.values() if s.alive]
        if self.any_machine or not alive:
            return
        if self.kind is None:
            groups: list[list[_Node]] = []
            for state in alive:
                for group in groups:
                    if not machine_differences(group[0].machine, state.machine):
                        group.append(state)
                        break
                else:
                    groups.append([state])
            self.kind = max(groups, key=len)[0].machine
        for state in alive:
            differences = machine_differences(self.kind, state.machine)
            if state.eligible and differences:
                self._note(f"node {state.node.short_id} ({state.node.hostname}) is a different machine ({'; '.join(differences)}): "
                           "it runs no sweep points (--any-machine uses it)")
            state.eligible = not differences

    # -- placing points ---------------------------------------------------------------------
    def _pick(self, state: _Node) -> _Pending | None:
        """The next point for this node: one pinned to it, else the first unpinned point not yet
        tried on it (a node that failed a point gets it back only when no other node is left)."""
        others_alive = any(s.alive and s.eligible and s is not state for s in self.nodes.values())
        fallback = None
        for index, pending in enumerate(self.todo):
            if pending.pinned:
                if pending.pinned == state.node.node_id:
                    del self.todo[index]
                    return pending
                continue
            if not state.eligible:
                continue
            if state.node.node_id in pending.tried_on and others_alive:
                continue
            if state.node.node_id in pending.tried_on:
                fallback = fallback if fallback is not None else index
                continue
            del self.todo[index]
            return pending
        if fallback is not None:
            pending = self.todo[fallback]
            del self.todo[fallback]
            return pending
        return None

    def dispatch(self) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        for state in self.nodes.values():
            while state.alive and state.in_flight < state.capacity and self.todo:
                pending = self._pick(state)
                if pending is None:
                    break
                strategy = NodeAffinitySchedulingStrategy(state.node.node_id, soft=False)
                ref = self.task.options(scheduling_strategy=strategy, **self.task_options).remote(self.run_point_ref, pending.point)
                self.in_flight[ref] = (pending, state.node.node_id)
                state.in_flight += 1
                self._update_running(state)

    def _update_running(self, state: _Node) -> None:
        slots = state.node.slots if self.measuring else state.node.cpus
        self.state.nodes[state.node.node_id].running = min(state.in_flight, max(1, slots))

    def fail_stranded(self) -> None:
        """Points that no alive node can run: pinned to a node that is gone, or (after a grace
        period) any point when no eligible node is left."""
        alive = {node_id for node_id, s in self.nodes.items() if s.alive}
        for pending in [p for p in self.todo if p.pinned and p.pinned not in alive]:
            self.todo.remove(pending)
            reason = f"node {pending.pinned[:8]} is not in the cluster any more"
            self._end(pending, None, None, reason)
        unpinned = [p for p in self.todo if not p.pinned]
        if not unpinned or any(s.alive and s.eligible for s in self.nodes.values()):
            self.no_node_since = None
            return
        self.no_node_since = self.no_node_since or time.monotonic()
        if time.monotonic() - self.no_node_since < NO_NODE_GRACE_S:
            return
        for pending in unpinned:
            self.todo.remove(pending)
            self._end(pending, None, None, f"no node with a measurement slot ({MEASURE_SLOT}) was left in the cluster")

    # -- results ----------------------------------------------------------------------------
    def _end(self, pending: _Pending, node_id: str | None, outcome: dict[str, Any] | None, error: str | None) -> None:
        outcome = outcome or {}
        self.log.record(FleetPointRecord(key=pending.key, point=pending.point, status=FAILED if error else DONE, node_id=node_id,
                                         hostname=outcome.get("hostname"), started_at=outcome.get("started_at"),
                                         finished_at=outcome.get("finished_at"), attempts=tuple(pending.attempts), error=error,
                                         result=outcome.get("result")))
        progress = self.state.nodes.get(node_id) if node_id else None
        if error:
            self.state.failed += 1
            if progress:
                progress.failed += 1
        else:
            self.state.done += 1
            if progress:
                progress.done += 1
        where = f" on {self.nodes[node_id].node.short_id} ({self.nodes[node_id].node.hostname})" if node_id in self.nodes else ""
        seconds = f" in {outcome['finished_at'] - outcome['started_at']:.2f} s" if outcome else ""
        self.state.last = (f"point {pending.key} {'failed' if error else 'done'}{where}{seconds}"
                           f" [{self.state.done + self.state.failed}/{self.state.total - self.state.skipped}]"
                           + (f": {error}" if error else ""))
        self.report(self.state)
        self.state.last = None

    def collect(self, ref) -> None:
        pending, node_id = self.in_flight.pop(ref)
        state = self.nodes[node_id]
        state.in_flight -= 1
        self._update_running(state)
        try:
            outcome = self.ray.get(ref)
        except self.system_errors as exc:
            pending.attempts.append(Attempt(node_id=node_id, hostname=state.node.hostname, error=_short(exc)))
            self.refresh_nodes()
            if len(pending.attempts) <= self.retries and not pending.pinned:
                self.todo.appendleft(pending)
                self._note(f"point {pending.key} lost on {state.node.short_id} ({_short(exc)}): trying it again elsewhere")
            else:
                tries = "; ".join(f"{a.node_id[:8]}: {a.error}" for a in pending.attempts)
                self._end(pending, node_id, None, f"the node or its worker died ({len(pending.attempts)} tries: {tries})")
            return
        except self.ray.exceptions.RayTaskError as exc:  # the task itself broke before running the point
            self._end(pending, node_id, None, _short(exc.cause if getattr(exc, "cause", None) else exc))
            return
        self._end(pending, node_id, outcome, outcome.get("error"))

    def run(self) -> bool:
        """Run every point to done or failed; False when Ctrl-C stopped it first."""
        try:
            self.refresh_nodes()
            self.report(self.state)
            while self.todo or self.in_flight:
                if time.monotonic() - self.last_refresh > REFRESH_S:
                    self.refresh_nodes()
                self.fail_stranded()
                self.dispatch()
                if not self.in_flight:
                    time.sleep(0.2 if self.todo else 0)
                    continue
                ready, _ = self.ray.wait(list(self.in_flight), num_returns=1, timeout=1.0)
                if ready:
                    more, _ = self.ray.wait(list(self.in_flight), num_returns=len(self.in_flight), timeout=0)
                    for ref in dict.fromkeys(ready + more):
                        self.collect(ref)
        except KeyboardInterrupt:
            # nothing is cancelled by hand: when the driver disconnects, Ray ends the tasks it owns
            # (a forced ray.cancel racing a reply can abort the driver: Ray 2.60's "task that was
            # not pending" check), and a point cut short holds its node's slot until it is gone
            return False
        return True


def check_retries(retries: int) -> None:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise OptionError(f"--retries {retries} is not allowed", "give 0 or more tries on another node")


def run_points(points: list[dict[str, Any]], run_point: Callable[[dict[str, Any]], dict[str, Any]], log: FleetLog, *,
               resource: str | None = None, retries: int = 2, any_machine: bool = False,
               progress: Callable[[SweepProgress], None] | None = None) -> FleetResult:
    """Run `points` on the connected cluster; every point ends in `log` as done or failed. Ctrl-C
    returns what ended, marked incomplete and interrupted."""
    check_retries(retries)
    scheduler = Scheduler(points, run_point, log, resource=resource, retries=retries, any_machine=any_machine, progress=progress)
    finished = scheduler.run()
    log.write(complete=finished, interrupted=not finished)
    return log.result(complete=finished, interrupted=not finished)
