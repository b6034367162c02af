"""What runs on a node: the node describing itself, and one point run with its start and end times.

A point's own failure (a model an engine cannot run, a bad setting) comes back as a value with the
reason, so the driver tells it apart from the node or its worker dying (a Ray exception), which is
worth retrying elsewhere.
"""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Any

from ..errors import FlopbenchError, engine_message, one_line
from ..results.metadata import machine_metadata
from .cluster import current_node_id


def node_identity() -> dict[str, Any]:
    return {"node_id": current_node_id(), "hostname": socket.gethostname(), "pid": os.getpid()}


def describe_node() -> dict[str, Any]:
    """This node and its machine (CPU, cores, versions): what its results will be compared by."""
    return {**node_identity(), "machine": machine_metadata()}


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, FlopbenchError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory on the node"
    return one_line(f"{type(exc).__name__}: {engine_message(exc)}", 400)


def run_point_on_node(run_point: Callable[[dict[str, Any]], dict[str, Any]], point: dict[str, Any]) -> dict[str, Any]:
    """Run one point here; the wall-clock start and end (seconds since the epoch, this node's clock)
    let anyone check that two measurements never overlapped on one node."""
    identity = node_identity()
    started = time.time()
    try:
        result, error = run_point(point), None
    except Exception as exc:  # the point's own failure; a dying worker or node never gets here
        result, error = None, failure_reason(exc)
    return {**identity, "started_at": started, "finished_at": time.time(), "result": result, "error": error}
