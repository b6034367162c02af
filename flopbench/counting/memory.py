"""Activation memory: what a runtime must hold when it frees every tensor after its last reader.

Each op's outputs are allocated when it runs and freed once the last op that reads them has run
(model outputs live to the end, model inputs from the start). While an op runs, its inputs and its
outputs are both held. The peak over the model's topological order is what a simple runtime needs;
where the graph branches, another order can need less, so the lowest peak over every order is
searched exactly (a dynamic programme over the sets of ops already run) when the number of such
sets stays small, and otherwise bounded from below by the largest single op (its inputs plus its
outputs), which every order must hold at once. When the model's own order peaks at that bound, the
bound is the lowest peak, exact whatever the number of orders.

Sizes are at the element types the graph has (f32 = 4 bytes), with no buffer reuse between an op's
input and output (in-place activations) and no fusion: an engine that fuses or works in place holds
less, one that keeps padded or blocked layouts and scratch buffers holds more.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from ..errors import OptionError
from ..results.codec import encoded, json_field
from .graph import Graph
from .records import quick_init

MAX_ORDER_STATES = 50_000  # sets of ops already run that the exact search may visit


@quick_init
@dataclass(frozen=True)
class MemoryStep:
    """One op of the order: what it allocates, what is live while it runs, what is freed after."""

    op: str
    live_bytes: int
    allocated: tuple[str, ...]
    freed: tuple[str, ...]


@dataclass(frozen=True)
class ActivationMemory:
    steps: tuple[MemoryStep, ...]
    input_bytes: int  # model inputs, live from the start
    peak_bytes: int = json_field(json="peak_activation_bytes")  # the peak along the model's topological order
    peak_op: str  # the op running at that peak
    lowest_peak_bytes: int = json_field(json="lowest_peak_activation_bytes")  # the lowest peak any order reaches, or a lower bound of it
    lowest_peak_exact: bool  # False: `lowest_peak_bytes` is a bound (the graph has too many orders to search)
    order: Literal["topological"] = "topological"  # the order the steps and the peak follow

    def step(self, op: str) -> MemoryStep:
        for step in self.steps:
            if step.op == op:
                return step
        raise KeyError(op)


@encoded(derived=("needed_bytes", "fits", "margin_bytes"))
@dataclass(frozen=True)
class MemoryFit:
    """Whether weights + peak activations fit a memory budget."""

    budget_bytes: int
    weight_bytes: int
    activation_bytes: int = json_field(json="peak_activation_bytes")

    @property
    def needed_bytes(self) -> int:
        return self.weight_bytes + self.activation_bytes

    @property
    def fits(self) -> bool:
        return self.needed_bytes <= self.budget_bytes

    @property
    def margin_bytes(self) -> int:
        """Spare bytes when it fits, negative (the excess) when it does not."""
        return self.budget_bytes - self.needed_bytes


def fit(weight_bytes: int, peak_activation_bytes: int, budget: int | str) -> MemoryFit:
    """Whether weights + peak activations fit `budget` (bytes, or a size such as "64MB")."""
    budget_bytes = parse_size(budget) if isinstance(budget, str) else int(budget)
    return MemoryFit(budget_bytes=budget_bytes, weight_bytes=weight_bytes, activation_bytes=peak_activation_bytes)


SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
              "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]*)\s*")


def parse_size(text: str) -> int:
    """"64MB" → 64,000,000 bytes; "64MiB" → 67,108,864; a bare number is bytes."""
    match = _SIZE.fullmatch(str(text))
    unit = match.group(2).upper() if match else ""
    if not match or unit not in SIZE_UNITS:
        raise OptionError(f"memory size {str(text)!r} is not a size", "give a number with a unit, e.g. 64MB, 512KiB or 2GB (MB = 10^6 bytes, MiB = 2^20)")
    size = int(float(match.group(1)) * SIZE_UNITS[unit])
    if size <= 0:
        raise OptionError(f"memory size {str(text)!r} is not positive", "give a size above zero, e.g. 64MB")
    return size


def activation_memory(graph: Graph) -> ActivationMemory:
    """The activation memory of a model with static shapes, from its `Graph`: constants (folded
    at compile time) hold no activations."""
    ops = [record for record in graph.nodes if record.type not in ("Parameter", "Result")]
    count = end = len(ops)
    step_of = {record.name: index for index, record in enumerate(ops)}

    # every tensor, numbered: its size, its name, and per op the tensors it allocates, frees, reads
    sizes: list[int] = []
    names: list[str] = []
    is_output: list[bool] = []
    reader_masks: list[int] = []  # bit mask of the ops that read it
    at_start: list[int] = []  # the model's inputs
    allocated_at: list[list[int]] = [[] for _ in range(count)]
    freed_at: list[list[int]] = [[] for _ in range(count)]
    inputs_of: list[list[int]] = [[] for _ in range(count)]
    needs = [0] * count  # bit mask of the ops that must run first
    successors: list[set[int]] = [set() for _ in range(count)]
    producers = [(record, -1) for record in graph.inputs] + [(record, index) for index, record in enumerate(ops)]
    for producer, step in producers:
        single = len(producer.outputs) == 1
        for index, tensor in enumerate(producer.outputs):
            number = len(sizes)
            sizes.append(math.prod(tensor.shape) * tensor.element_size if tensor.shape is not None else 0)
            names.append(producer.friendly if single else f"{producer.friendly}:{index}")
            is_output.append(tensor.to_result)
            reading = sorted({step_of[reader.name] for reader in tensor.readers})
            mask = 0
            for reader in reading:
                mask |= 1 << reader
                inputs_of[reader].append(number)
            reader_masks.append(mask)
            if step >= 0:
                allocated_at[step].append(number)
                successors[step].update(reading)
                for reader in reading:
                    needs[reader] |= 1 << step
            else:
                at_start.append(number)
            last = end if tensor.to_result else (reading[-1] if reading else max(step, 0))
            if last < end:
                freed_at[last].append(number)

    live = input_bytes = sum(sizes[t] for t in at_start)
    steps = []
    peak_index = -1
    peak_bytes = input_bytes
    allocated = [0] * count
    for index, node in enumerate(ops):
        made = allocated_at[index]
        allocated[index] = sum(sizes[t] for t in made)
        live += allocated[index]
        freed = freed_at[index]
        steps.append(MemoryStep(op=node.friendly, live_bytes=live, allocated=tuple(names[t] for t in made),
                                freed=tuple(names[t] for t in freed)))
        if peak_index < 0 or live > peak_bytes:
            peak_index, peak_bytes = index, live
        live -= sum(sizes[t] for t in freed)
    alone = [sum(sizes[t] for t in inputs_of[v]) + allocated[v] for v in range(count)]
    # per op, the tensors it reads or writes that a later step may free: (ops reading it, size)
    releasable = [[(reader_masks[t], sizes[t]) for t in inputs_of[v] + allocated_at[v] if not is_output[t]] for v in range(count)]
    search = _OrderSearch(needs, successors, allocated, releasable, input_bytes)
    lowest, exact = _lowest_peak(search, max(alone, default=input_bytes))
    return ActivationMemory(steps=tuple(steps), input_bytes=input_bytes, peak_bytes=peak_bytes,
                            peak_op=steps[peak_index].op if steps else "", lowest_peak_bytes=lowest, lowest_peak_exact=exact)


def _lowest_peak(search: "_OrderSearch", bound: int) -> tuple[int, bool]:
    """The lowest peak over every order the graph allows: a search over the sets of ops already run
    (the live bytes depend only on that set) when there are at most `MAX_ORDER_STATES` such sets,
    otherwise `bound`, the largest single op's inputs plus outputs, which every order holds at once.

    A graph whose bound is reached by the model's own order needs no search at all, however many
    orders it has: no order holds less than the bound, and that order holds no more, so the bound is
    the lowest peak, exactly. Otherwise the sets are counted first (`count_order_states`, cheap on
    the graphs networks have), so a graph with too many of them gives its bound at once instead of
    after a search abandoned half-way."""
    if not search.needs:
        return search.input_bytes, True
    along = search.peak_along_model_order()
    if along <= bound:  # every order holds the bound at once: the model's own order is the best
        return along, True
    states = count_order_states(search.needs, MAX_ORDER_STATES + 2)  # saturated: over the budget
    if states is None:  # a graph the counting does not take apart: search within the budget as it goes
        lowest = search.lowest(budget=MAX_ORDER_STATES)
        return (bound, False) if lowest is None else (lowest, True)
    if states - 1 > MAX_ORDER_STATES:  # the empty set is where the search starts, not a state it visits
        return bound, False
    return search.lowest(limit=along), True


class _OrderSearch:
    """The dynamic programme over the sets of ops already run (bit masks), keeping per set the
    lowest peak any order reaching it had."""

    def __init__(self, needs, successors, allocated, releasable, input_bytes: int):
        self.needs, self.successors, self.allocated, self.releasable = needs, successors, allocated, releasable
        self.input_bytes = input_bytes

    def peak_along_model_order(self) -> int:
        """The peak of running the ops in their topological order, as the search counts live bytes."""
        live = peak = self.input_bytes
        done = 0
        for v in range(len(self.needs)):
            during = live + self.allocated[v]
            peak = max(peak, during)
            done |= 1 << v
            live = during - sum(size for readers_mask, size in self.releasable[v] if readers_mask & ~done == 0)
        return peak

    def lowest(self, budget: int | None = None, limit: int | None = None) -> int | None:
        """The lowest peak over every order; None when more than `budget` sets would be visited.
        With `limit`, a peak some order is known to reach: sets whose peak is already there are
        dropped (no order through them can do better), and `limit` is the answer if all are."""
        needs, successors, allocated, releasable = self.needs, self.successors, self.allocated, self.releasable
        count = len(needs)
        ready = sum(1 << v for v in range(count) if needs[v] == 0)
        # ops run → (lowest peak so far, live bytes now, ops ready to run); the live bytes depend only on
        # which ops have run, not on their order, so one entry per set is enough
        frontier = {0: (self.input_bytes, self.input_bytes, ready)}
        visited = 0
        for _ in range(count):
            following: dict[int, tuple[int, int, int]] = {}
            for done, (peak, live, ready) in frontier.items():
                # `following` only grows: once past the budget, this step would give up at its end anyway
                if budget is not None and visited + len(following) > budget:
                    return None
                pending = ready
                while pending:
                    v = (pending & -pending).bit_length() - 1
                    pending &= pending - 1
                    during = live + allocated[v]
                    highest = peak if peak > during else during
                    if limit is not None and highest >= limit:
                        continue
                    after = done | 1 << v
                    known = following.get(after)
                    if known is not None and known[0] <= highest:
                        continue
                    now_ready = ready & ~(1 << v)
                    for w in successors[v]:
                        if needs[w] & ~after == 0:
                            now_ready |= 1 << w
                    freed = 0  # bytes no op still to run reads, once v has run
                    for readers_mask, size in releasable[v]:
                        if readers_mask & ~after == 0:
                            freed += size
                    following[after] = (highest, during - freed, now_ready)
            visited += len(following)
            if budget is not None and visited > budget:
                return None
            frontier = following
        if not frontier:
            return limit if limit is not None else self.input_bytes
        return min(peak for peak, _, _ in frontier.values())


# ops the counting may look at, summed over the sets it takes apart, per op of the graph, before it leaves
# the graph to the search and its budget (networks need 1 to 3: the light models at most 2.6 on inception_v2)
COUNTING_WORK_PER_OP = 20


class _Uncountable(Exception):
    pass


def count_order_states(needs: list[int], cap: int) -> int | None:
    """How many sets of ops can have run at some point of some order (the ideals of the graph's
    partial order, the empty set and the whole included), capped at `cap`; None when the graph does
    not come apart quickly.

    A set of ops counts as the product of its parts that no dependency joins; a part in which some
    ops come before or after every other (the ops a network's branches meet at) as the sum over the
    stretches between them (a set of ops already run ends in exactly one stretch); any other part as
    the sets without one of its ops plus the sets with it. A network of chains, residual blocks and
    inception-style branches comes apart in a few steps per block, where listing the sets one by one
    would take as many steps as there are sets."""
    count = len(needs)
    before = [0] * count  # every op that must run before v
    for v in range(count):  # ops are in topological order: v's predecessors are done already
        pending, mask = needs[v], needs[v]
        while pending:
            u = (pending & -pending).bit_length() - 1
            pending &= pending - 1
            mask |= before[u]
        before[v] = mask
    after = [0] * count  # every op that must run after v
    for v in range(count - 1, -1, -1):
        pending = needs[v]
        while pending:
            u = (pending & -pending).bit_length() - 1
            pending &= pending - 1
            after[u] |= after[v] | 1 << v
    related = [before[v] | after[v] for v in range(count)]
    memo: dict[int, int] = {}
    work, budget = 0, COUNTING_WORK_PER_OP * count + 1_000

    def ideals(members: int) -> int:
        nonlocal work
        if members == 0:
            return 1
        known = memo.get(members)
        if known is not None:
            return known
        size = members.bit_count()
        work += size
        if work > budget:
            raise _Uncountable
        parts = []
        rest = members
        while rest:  # the parts no dependency joins
            part, grow = 0, rest & -rest
            while grow:
                part |= grow
                reached = 0
                while grow:
                    v = (grow & -grow).bit_length() - 1
                    grow &= grow - 1
                    reached |= related[v]
                grow = reached & members & ~part
            parts.append(part)
            rest &= ~part
        if len(parts) > 1:
            total = 1
            for part in parts:  # every part has a set or more: past the cap, the product stays there
                total = min(total * ideals(part), cap)
                if total >= cap:
                    break
        else:
            pending, cuts = members, []
            while pending:
                v = (pending & -pending).bit_length() - 1
                pending &= pending - 1
                if (related[v] & members).bit_count() == size - 1:
                    cuts.append(v)
            if cuts:  # in topological order, as the ops are numbered
                stretches = [before[cuts[0]] & members]
                stretches += [after[first] & before[second] & members for first, second in zip(cuts, cuts[1:])]
                stretches.append(after[cuts[-1]] & members)
            else:
                first = (members & -members).bit_length() - 1
                stretches = [members & ~(after[first] | 1 << first), members & ~(before[first] | 1 << first)]
            total = 0
            for stretch in stretches:  # past the cap, the sum stays there
                total += ideals(stretch)
                if total >= cap:
                    break
        total = min(total, cap)
        memo[members] = total
        return total

    try:
        return ideals((1 << count) - 1)
    except (_Uncountable, RecursionError):
        return None
