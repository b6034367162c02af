"""Activation memory along the graph's order, checked against hand calculations and a brute force."""
import itertools

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

import flopbench
from flopbench.counting.memory import MAX_ORDER_STATES, fit, parse_size
from flopbench.errors import OptionError

F32 = 4


@pytest.mark.parametrize("suffix", ["xml", "onnx"])
def test_sep_cnn_peak_by_hand(zoo_dir, suffix):
    cost = flopbench.count(zoo_dir / f"sep_cnn.{suffix}")
    # conv1's pointwise output 1x10x26x26 is read by the bias add while the add writes its own
    # 1x10x26x26: two such tensors, nothing else alive (the 28x28 input was freed after the depthwise)
    assert cost.peak_activation_bytes == 2 * 10 * 26 * 26 * F32 == 54_080
    assert cost.memory.lowest_peak_bytes == 54_080 and cost.memory.lowest_peak_exact
    assert cost.memory.input_bytes == 28 * 28 * F32
    first = cost.memory.steps[0]
    assert first.op == "conv1/depthwise" and first.live_bytes == (28 * 28 + 26 * 26) * F32
    assert "input" in first.freed
    # the model's output lives to the end: never freed
    assert all("probabilities" not in step.freed and "softmax" not in step.freed for step in cost.memory.steps)


def _save(tmp_path, model, name="m"):
    path = tmp_path / f"{name}.xml"
    ov.save_model(model, path, compress_to_fp16=False)
    return path


def _conv(x, channels, name):
    weights = ops.constant(np.full((channels, x.get_output_partial_shape(0)[1].get_length(), 3, 3), 0.01, np.float32))
    return ops.convolution(x, weights, [1, 1], [1, 1], [1, 1], [1, 1], name=name)


def test_residual_block_frees_each_tensor_after_its_last_reader(tmp_path):
    x = ops.parameter([1, 8, 16, 16], np.float32, name="x")
    a = _conv(x, 8, "conv_a")
    r = ops.relu(a, name="relu_a")
    b = _conv(r, 8, "conv_b")
    s = ops.add(x, b, name="add")  # the skip connection keeps x alive across the block
    out = ops.relu(s, name="out")
    cost = flopbench.count(_save(tmp_path, ov.Model([ops.result(out)], [x])))
    memory = cost.memory
    tensor = 8 * 16 * 16 * F32
    assert [step.op for step in memory.steps] == ["conv_a", "relu_a", "conv_b", "add", "out"]
    assert [step.live_bytes for step in memory.steps] == [2 * tensor, 3 * tensor, 3 * tensor, 3 * tensor, 2 * tensor]
    assert memory.step("relu_a").freed == ("conv_a",)  # conv_a's output: its only reader has run
    assert memory.step("conv_b").freed == ("relu_a",)
    assert "x" not in memory.step("conv_a").freed  # the skip connection still needs x ...
    assert set(memory.step("add").freed) == {"x", "conv_b"}  # ... until the add has read it
    assert memory.peak_bytes == 3 * tensor and memory.lowest_peak_bytes == 3 * tensor


def _naive_peak(order, producers, readers, sizes, outputs, inputs):
    """Live bytes at each step, recomputed from scratch: every tensor made so far that some op not
    yet run (or the current one) still reads, or that is a model output."""
    peak = 0
    for position, op in enumerate(order):
        ran = set(order[: position + 1])
        live = 0
        for tensor, size in sizes.items():
            made = tensor in inputs or producers[tensor] in ran
            still_read = any(r not in set(order[:position]) for r in readers[tensor])
            current = producers.get(tensor) == op
            if made and (still_read or tensor in outputs or current):
                live += size
        peak = max(peak, live)
    return peak


@pytest.mark.parametrize("counted", [True, False], ids=["sets counted first", "graph the counting gives up on"])
def test_lowest_peak_is_the_best_order_of_a_branching_graph(tmp_path, monkeypatch, counted):
    """Three branches of different widths, concatenated: the exact search agrees with the minimum
    over every topological order, found by brute force; also where the counting of sets gives up
    (a graph that does not come apart quickly) and the search runs within its budget as it goes."""
    import flopbench.counting.memory as memory_module

    if not counted:
        monkeypatch.setattr(memory_module, "count_order_states", lambda needs, cap: None)
    x = ops.parameter([1, 4, 8, 8], np.float32, name="x")
    wide = _conv(_conv(x, 32, "wide_1"), 2, "wide_2")
    narrow = _conv(_conv(x, 2, "narrow_1"), 2, "narrow_2")
    middle = _conv(x, 16, "middle_1")
    middle_2 = _conv(middle, 2, "middle_2")
    joined = ops.concat([wide, narrow, middle_2], 1, name="join")
    cost = flopbench.count(_save(tmp_path, ov.Model([ops.result(joined)], [x])))
    memory = cost.memory
    ops_in_order = [step.op for step in memory.steps]
    channels = {"wide_1": 32, "wide_2": 2, "narrow_1": 2, "narrow_2": 2, "middle_1": 16, "middle_2": 2, "join": 6}
    sizes = {name: c * 8 * 8 * F32 for name, c in channels.items()} | {"x": 4 * 8 * 8 * F32}
    producers = {name: name for name in channels}
    readers = {"x": ["wide_1", "narrow_1", "middle_1"], "wide_1": ["wide_2"], "narrow_1": ["narrow_2"], "middle_1": ["middle_2"],
               "wide_2": ["join"], "narrow_2": ["join"], "middle_2": ["join"], "join": []}
    needs = {op: [t for t, rs in readers.items() if op in rs and t != "x"] for op in channels}
    orders = [order for order in itertools.permutations(channels)
              if all(order.index(p) < order.index(op) for op in order for p in needs[op])]
    peaks = [_naive_peak(order, producers, readers, sizes, {"join"}, {"x"}) for order in orders]
    assert len(orders) == 90
    assert memory.peak_bytes == _naive_peak(ops_in_order, producers, readers, sizes, {"join"}, {"x"})
    assert memory.lowest_peak_exact and memory.lowest_peak_bytes == min(peaks)
    assert min(peaks) < max(peaks)  # the order matters in this graph


def test_too_many_orders_and_the_model_order_above_the_bound_give_a_bound(tmp_path):
    """12 branches of a convolution (as large as x) reduced to one number, concatenated: 3^12 sets of
    ops already run, over the search's budget. Whatever the order, the last convolution runs while x,
    its output and the other 11 branches' results (at least their 4-byte means) are held: the lowest
    peak is above the largest single op, which is all that can be said without the search."""
    x = ops.parameter([1, 4, 8, 8], np.float32, name="x")
    branches = [ops.reduce_mean(_conv(x, 4, f"conv_{i}"), [1, 2, 3], True, name=f"mean_{i}") for i in range(12)]
    joined = ops.concat(branches, 1, name="join")
    cost = flopbench.count(_save(tmp_path, ov.Model([ops.result(joined)], [x])))
    tensor = 4 * 8 * 8 * F32
    assert 3 ** 12 > MAX_ORDER_STATES
    assert not cost.memory.lowest_peak_exact
    # the bound: the largest op alone, a convolution's input and output
    assert cost.memory.lowest_peak_bytes == 2 * tensor
    assert cost.memory.peak_bytes == 2 * tensor + 11 * F32 > cost.memory.lowest_peak_bytes


def test_too_many_orders_and_the_model_order_at_the_bound_give_the_lowest_peak_exactly(tmp_path):
    """17 convolutions of x, concatenated: 2^17 sets of ops already run, over the search's budget,
    but the model's own order peaks at the concat (its 17 inputs and its output), the largest single
    op, which every order holds at once: that peak is the lowest, exactly."""
    x = ops.parameter([1, 4, 8, 8], np.float32, name="x")
    branches = [_conv(x, 4, f"conv_{i}") for i in range(17)]
    joined = ops.concat(branches, 1, name="join")
    cost = flopbench.count(_save(tmp_path, ov.Model([ops.result(joined)], [x])))
    tensor = 4 * 8 * 8 * F32
    assert 2 ** 17 > MAX_ORDER_STATES
    assert cost.memory.peak_bytes == 2 * 17 * tensor and cost.memory.peak_op == "join"
    assert cost.memory.lowest_peak_exact and cost.memory.lowest_peak_bytes == 2 * 17 * tensor


def test_memory_sizes_and_budget():
    assert parse_size("64MB") == 64_000_000
    assert parse_size("64MiB") == 64 * 2**20
    assert parse_size("1.5 GB") == 1_500_000_000
    assert parse_size("4096") == 4096
    for bad in ("", "64XB", "-3MB", "0"):
        with pytest.raises(OptionError):
            parse_size(bad)
    budget = fit(1_000, 500, "1kB")
    assert not budget.fits and budget.margin_bytes == -500
    assert fit(1_000, 500, 2_000).fits


def _ideals_by_enumeration(needs):
    """Every set of ops closed under "must run first", listed one by one."""
    count = len(needs)
    return sum(1 for members in range(1 << count)
               if all(needs[v] & ~members == 0 for v in range(count) if members >> v & 1))


@pytest.mark.parametrize("seed", range(40))
def test_order_states_are_counted_as_listing_them_would(seed):
    """The counting that decides between the exact search and the bound takes graphs apart
    (independent parts, ops every other op is ordered with); random graphs of up to 12 ops, sparse
    and dense, agree with listing every closed set."""
    import random

    from flopbench.counting.memory import count_order_states

    rng = random.Random(seed)
    count = rng.randint(1, 12)
    density = rng.choice([0.1, 0.25, 0.5])
    needs = [sum(1 << u for u in range(v) if rng.random() < density) for v in range(count)]
    expected = _ideals_by_enumeration(needs)
    assert count_order_states(needs, 10**9) == expected
    assert count_order_states(needs, 5) == min(expected, 5)  # capped, as the budget reads it
