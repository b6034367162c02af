"""Every conv-like FLOP formula against an independent count.

For each seeded random case a naive pure-Python loop computes the op and counts its own
multiply-adds (one counter increment per multiply-add it performs). The same op is built with
OpenVINO's opset API, saved as IR, and counted from the file with `flopbench.count`; the MACs must
match the loop's count. The loop's output must also equal OpenVINO's own inference of the saved
IR (CPU, f32), which proves the loop computes the same operation (padding conventions, output
shape ...), so its count is a count of that operation.

Conventions the loops count (the same ones the formulas document):
- convolutions zero-pad the input first and then multiply-add every kernel tap, so taps that land
  on padding are counted (N·C_out·spatial_out · C_in/G·K);
- transposed convolutions scatter every input element through the full kernel into an uncropped
  buffer, then crop pads_begin / pads_end (N·C_in·spatial_in · C_out/G·K);
- pooling visits every kernel tap of every window, taps on padding included (outputs × K).

The pure `flopbench.counting.formulas` functions are also checked on hand-made `OpView`s, without OpenVINO.
"""
from __future__ import annotations

import itertools
import math
import random

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flopbench
from flopbench.counting.formulas import DATA_MOVEMENT, FORMULAS, OpView, Work

F32 = {"INFERENCE_PRECISION_HINT": "f32"}
_CORE = ov.Core()


# --- the harness: build, save as IR, count from the file, run on CPU -------------------------


def count_and_run(tmp_path, params, node, feeds, output_index=0):
    """Save a one-op model as IR; return flopbench's OpCost of the op and OpenVINO's output."""
    node.set_friendly_name("op")
    model = ov.Model([node.output(output_index)], params, "case")
    path = tmp_path / "m.xml"
    ov.save_model(model, path, compress_to_fp16=False)
    cost = flopbench.count(path)
    compiled = _CORE.compile_model(str(path), "CPU", F32)
    result = compiled([np.asarray(f, dtype=np.float32) for f in feeds])[compiled.output(0)]
    return cost, cost.op("op"), np.asarray(result)


def assert_matches(op, ov_out, naive_out, naive_count, op_type, field="macs"):
    assert op.type == op_type
    assert op.counted, op.note
    assert op.output_shapes[0] == tuple(naive_out.shape), "naive output shape differs from OpenVINO's inferred shape"
    assert tuple(ov_out.shape) == tuple(naive_out.shape)
    np.testing.assert_allclose(ov_out, naive_out, rtol=1e-4, atol=1e-4)
    if field == "macs":
        assert op.macs == naive_count
        assert op.flops == 2 * naive_count
        assert op.other_flops == 0
    else:
        assert op.other_flops == naive_count
        assert op.macs == 0 and op.flops == 0


# --- naive reference loops ---------------------------------------------------------------------


def resolve_pads(in_sp, kernel, strides, dilations, auto_pad, pads_begin, pads_end):
    """Padding as OpenVINO / ONNX resolve auto_pad."""
    rank = len(in_sp)
    if auto_pad == "explicit":
        return list(pads_begin), list(pads_end)
    if auto_pad == "valid":
        return [0] * rank, [0] * rank
    begin, end = [], []
    for size, k, s, d in zip(in_sp, kernel, strides, dilations):
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, big = total // 2, total - total // 2
        if auto_pad == "same_upper":  # the extra pixel at the end
            begin.append(small), end.append(big)
        else:  # same_lower: the extra pixel at the beginning
            begin.append(big), end.append(small)
    return begin, end


def naive_conv(x, w, groups, strides, pads_begin, pads_end, dilations):
    """x [N, C_in, *sp], w [C_out, C_in/G, *k]: zero-pad, then one multiply-add per kernel tap."""
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + list(zip(pads_begin, pads_end)))
    n_batch, c_in = x.shape[:2]
    c_out, cin_g = w.shape[:2]
    kernel = w.shape[2:]
    cout_g = c_out // groups
    assert cin_g * groups == c_in
    out_sp = [(xp.shape[2 + i] - ((k - 1) * d + 1)) // s + 1 for i, (k, s, d) in enumerate(zip(kernel, strides, dilations))]
    out = np.zeros([n_batch, c_out] + out_sp)
    taps = list(itertools.product(*(range(k) for k in kernel)))
    macs = 0
    for n in range(n_batch):
        for co in range(c_out):
            group = co // cout_g
            for pos in itertools.product(*(range(o) for o in out_sp)):
                acc = 0.0
                for ci in range(cin_g):
                    c = group * cin_g + ci
                    for tap in taps:
                        src = tuple(p * s + t * d for p, t, s, d in zip(pos, tap, strides, dilations))
                        acc += xp[(n, c) + src] * w[(co, ci) + tap]
                        macs += 1
                out[(n, co) + pos] = acc
    return out, macs


def naive_conv_transpose(x, w, strides, pads_begin, pads_end, dilations, output_padding):
    """x [N, C_in, *sp], w [G, C_in/G, C_out/G, *k]: scatter every input element through the whole
    kernel into an uncropped buffer (one multiply-add per scattered product), then crop the pads."""
    n_batch, c_in = x.shape[:2]
    groups, cin_g, cout_g = w.shape[:3]
    kernel = w.shape[3:]
    in_sp = x.shape[2:]
    full_sp = [(i - 1) * s + (k - 1) * d + 1 + op for i, k, s, d, op in zip(in_sp, kernel, strides, dilations, output_padding)]
    full = np.zeros([n_batch, cout_g * groups] + full_sp)
    taps = list(itertools.product(*(range(k) for k in kernel)))
    macs = 0
    for n in range(n_batch):
        for ci in range(c_in):
            group, local = divmod(ci, cin_g)
            for pos in itertools.product(*(range(i) for i in in_sp)):
                value = float(x[(n, ci) + pos])
                for col in range(cout_g):
                    co = group * cout_g + col
                    for tap in taps:
                        dst = tuple(p * s + t * d for p, t, s, d in zip(pos, tap, strides, dilations))
                        full[(n, co) + dst] += value * w[(group, local, col) + tap]
                        macs += 1
    crop = tuple(slice(b, size - e) for b, e, size in zip(pads_begin, pads_end, full_sp))
    return full[(slice(None), slice(None)) + crop], macs


def naive_matmul(a, b, transpose_a, transpose_b):
    """numpy / OpenVINO MatMul semantics; 1-D operands ignore the transpose flags."""
    a2 = a[None, :] if a.ndim == 1 else (np.swapaxes(a, -1, -2) if transpose_a else a)
    b2 = b[:, None] if b.ndim == 1 else (np.swapaxes(b, -1, -2) if transpose_b else b)
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    big_a = np.broadcast_to(a2, batch + a2.shape[-2:])
    big_b = np.broadcast_to(b2, batch + b2.shape[-2:])
    m, k = big_a.shape[-2:]
    k2, n_cols = big_b.shape[-2:]
    assert k == k2
    out = np.zeros(batch + (m, n_cols))
    macs = 0
    for bi in np.ndindex(*batch):
        for i in range(m):
            for j in range(n_cols):
                acc = 0.0
                for kk in range(k):
                    acc += float(big_a[bi + (i, kk)]) * float(big_b[bi + (kk, j)])
                    macs += 1
                out[bi + (i, j)] = acc
    if a.ndim == 1 and b.ndim == 1:
        out = out[..., 0, 0]
    elif a.ndim == 1:
        out = out[..., 0, :]
    elif b.ndim == 1:
        out = out[..., 0]
    return out, macs


def naive_einsum(equation, operands):
    """Loop over every combination of index values; at each, multiply the operands' elements and
    add the product into the output: one (multiply-)add counted per combination. "..." is
    spelled out as upper-case labels aligned from the right, size-1 dims broadcast."""
    lhs, rhs = equation.replace(" ", "").split("->")
    terms = lhs.split(",")
    ellipsis_rank = max((arr.ndim - len(t.replace("...", "")) for t, arr in zip(terms, operands) if "..." in t), default=0)
    broadcast = [chr(ord("A") + i) for i in range(ellipsis_rank)]

    def spell(term, rank):
        if "..." not in term:
            return term
        width = rank - len(term.replace("...", ""))
        return term.replace("...", "".join(broadcast[ellipsis_rank - width:]))

    terms = [spell(t, arr.ndim) for t, arr in zip(terms, operands)]
    rhs = spell(rhs, len(rhs.replace("...", "")) + ellipsis_rank)
    sizes: dict[str, int] = {}
    for term, arr in zip(terms, operands):
        for label, size in zip(term, arr.shape):
            sizes[label] = max(sizes.get(label, 1), size)
    labels = sorted(sizes)
    out = np.zeros([sizes[label] for label in rhs])
    count = 0
    for combo in itertools.product(*(range(sizes[label]) for label in labels)):
        env = dict(zip(labels, combo))
        value = 1.0
        for term, arr in zip(terms, operands):
            value *= float(arr[tuple(env[label] if dim > 1 else 0 for label, dim in zip(term, arr.shape))])
        out[tuple(env[label] for label in rhs)] += value
        count += 1
    return out, count


def pool_output_size(size, begin, end, k, s, d, rounding):
    span = size + begin + end - ((k - 1) * d + 1)
    if rounding == "floor":
        return span // s + 1
    out = -(-span // s) + 1
    return out - 1 if (out - 1) * s >= size + begin else out  # the last window must start inside


def naive_pool(x, kind, kernel, strides, pads_begin, pads_end, dilations, exclude_pad=False, rounding="floor"):
    """Counts every kernel tap visited, taps on padding (or, with ceil rounding, past it)
    included. Returns (None, 0) when a window holds only padding (no such case is listed)."""
    in_sp = x.shape[2:]
    out_sp = [pool_output_size(*a, rounding) for a in zip(in_sp, pads_begin, pads_end, kernel, strides, dilations)]
    out = np.zeros(list(x.shape[:2]) + out_sp)
    taps = list(itertools.product(*(range(k) for k in kernel)))
    visits = 0
    for n, c in np.ndindex(*x.shape[:2]):
        for pos in itertools.product(*(range(o) for o in out_sp)):
            inside = []
            for tap in taps:
                visits += 1
                src = tuple(p * s + t * d - b for p, t, s, d, b in zip(pos, tap, strides, dilations, pads_begin))
                if all(0 <= q < size for q, size in zip(src, in_sp)):
                    inside.append(float(x[(n, c) + src]))
            if not inside:
                return None, 0
            if kind == "MaxPool":
                out[(n, c) + pos] = max(inside)
            else:
                out[(n, c) + pos] = sum(inside) / (len(inside) if exclude_pad else len(taps))
    return out, visits


# --- seeded random cases -----------------------------------------------------------------------

RNG = random.Random(20260425)
MODES = ["explicit", "valid", "same_upper", "same_lower", "explicit"]


def _spatial_for(rank):
    return {1: (4, 10), 2: (3, 7), 3: (3, 4)}[rank]


def _conv_like_case(index, rank, c_in, c_out, groups, max_k=3, max_macs=6000, min_taps=1):
    """A random stride/pad/dilation/auto_pad setting whose output is non-empty and small."""
    while True:
        lo, hi = _spatial_for(rank)
        sp = [RNG.randint(lo, hi) for _ in range(rank)]
        kernel = [RNG.randint(1, max_k if rank < 3 else 2) for _ in range(rank)]
        if math.prod(kernel) < min_taps:
            continue
        strides = [RNG.randint(1, 3) for _ in range(rank)]
        dilations = [RNG.randint(1, 2) for _ in range(rank)]
        mode = MODES[index % len(MODES)]
        pads_begin = [RNG.randint(0, 2) for _ in range(rank)]
        pads_end = [RNG.randint(0, 2) for _ in range(rank)]
        if mode == "explicit" and pads_begin == pads_end:
            pads_end[0] = (pads_begin[0] + 1) % 3  # asymmetric in at least one axis
        batch = RNG.choice([1, 1, 2]) if rank < 3 else 1
        begin, end = resolve_pads(sp, kernel, strides, dilations, mode, pads_begin, pads_end)
        out = [(i + b + e - ((k - 1) * d + 1)) // s + 1 for i, b, e, k, s, d in zip(sp, begin, end, kernel, strides, dilations)]
        if min(out) < 1:
            continue
        macs = batch * c_out * math.prod(out) * (c_in // groups) * math.prod(kernel)
        if macs > max_macs:
            continue
        return dict(batch=batch, sp=sp, kernel=kernel, strides=strides, dilations=dilations, mode=mode,
                    pads_begin=pads_begin, pads_end=pads_end, c_in=c_in, c_out=c_out, groups=groups)


def _conv_cases():
    cases = []
    for rank, how_many in ((2, 15), (1, 3), (3, 2)):
        for _ in range(how_many):
            cases.append(_conv_like_case(len(cases), rank, RNG.randint(1, 3), RNG.randint(1, 3), 1,
                                         min_taps=1 if rank == 2 else 2))
    return cases


def _group_conv_cases():
    cases = []
    # depthwise multiplier 1, depthwise multiplier 2, grouped (G=2, C_in 4, C_out 6)
    for c_in, c_out, groups in ((3, 3, 3), (2, 2, 2), (2, 4, 2), (3, 6, 3), (4, 6, 2), (4, 6, 2)):
        cases.append(_conv_like_case(len(cases) + 1, 2, c_in, c_out, groups, min_taps=2))
    return cases


def _transpose_case(rank, c_in, c_out, groups):
    while True:
        lo, hi = {1: (3, 6), 2: (2, 4), 3: (2, 3)}[rank]
        sp = [RNG.randint(lo, hi) for _ in range(rank)]
        kernel = [RNG.randint(1, 3) for _ in range(rank)]
        strides = [RNG.randint(1, 3) for _ in range(rank)]
        dilations = [RNG.randint(1, 2) for _ in range(rank)]
        output_padding = [RNG.randint(0, s - 1) for s in strides]
        pads_begin = [RNG.randint(0, 2) for _ in range(rank)]
        pads_end = [RNG.randint(0, 2) for _ in range(rank)]
        full = [(i - 1) * s + (k - 1) * d + 1 + op for i, k, s, d, op in zip(sp, kernel, strides, dilations, output_padding)]
        if any(f - b - e < 1 for f, b, e in zip(full, pads_begin, pads_end)):
            continue
        if any(op >= max(s, d) for op, s, d in zip(output_padding, strides, dilations)):
            continue
        macs = c_in * math.prod(sp) * (c_out // groups) * math.prod(kernel)
        if macs > 6000:
            continue
        return dict(sp=sp, kernel=kernel, strides=strides, dilations=dilations, output_padding=output_padding,
                    pads_begin=pads_begin, pads_end=pads_end, c_in=c_in, c_out=c_out, groups=groups)


def _transpose_cases():
    cases = [_transpose_case(2, RNG.randint(1, 3), RNG.randint(1, 3), 1) for _ in range(6)]
    cases.append(_transpose_case(1, 2, 3, 1))
    cases.append(_transpose_case(3, 1, 2, 1))
    return cases


def _group_transpose_cases():
    return [_transpose_case(2, c_in, c_out, groups) for c_in, c_out, groups in ((2, 2, 2), (2, 4, 2), (4, 6, 2))]


def _describe(case):
    parts = [f"{case['c_in']}->{case['c_out']}", f"g{case['groups']}", "x".join(map(str, case["sp"])),
             "k" + "x".join(map(str, case["kernel"])), "s" + "".join(map(str, case["strides"])),
             "d" + "".join(map(str, case["dilations"]))]
    if "mode" in case:
        parts.append(case["mode"])
    if case.get("mode", "explicit") == "explicit":
        parts.append("p" + "".join(map(str, case["pads_begin"])) + "-" + "".join(map(str, case["pads_end"])))
    if "output_padding" in case:
        parts.append("op" + "".join(map(str, case["output_padding"])))
    return "_".join(parts)


CONV_CASES = _conv_cases()
GROUP_CONV_CASES = _group_conv_cases()
TRANSPOSE_CASES = _transpose_cases()
GROUP_TRANSPOSE_CASES = _group_transpose_cases()

MATMUL_CASES = [
    # (shape a, shape b, transpose_a, transpose_b)
    ((3, 4), (4, 5), False, False),
    ((4, 3), (4, 5), True, False),
    ((3, 4), (5, 4), False, True),
    ((4, 3), (5, 4), True, True),
    ((2, 1, 3, 4), (3, 4, 2), False, False),  # broadcast batch dims
    ((2, 3, 4), (1, 2, 4), False, True),
    ((4,), (4, 3), True, False),  # rank-1 a: the transpose flag is ignored
    ((2, 3, 4), (4,), False, False),  # rank-1 b
    ((5,), (5,), False, False),  # dot product: a scalar
    ((4, 3), (4,), True, False),  # rank-1 b, transposed a
    ((4,), (3, 4), False, True),  # rank-1 a, transposed b
]

EINSUM_CASES = [
    ("ij,jk->ik", ((3, 4), (4, 2))),
    ("bij,bjk->bik", ((2, 3, 2), (2, 2, 3))),
    ("bij,bkj->bik", ((2, 2, 3), (2, 4, 3))),
    ("i,i->", ((6,), (6,))),
    ("...ij,...jk->...ik", ((2, 3, 4), (2, 4, 2))),
    ("ij->i", ((4, 5),)),  # one operand: adds only
]

POOL_CASES = [
    # (kind, input shape, kernel, strides, pads_begin, pads_end, dilations, exclude_pad, auto_pad[, rounding])
    ("MaxPool", (1, 2, 6, 6), (2, 2), (2, 2), (0, 0), (0, 0), (1, 1), False, "explicit"),
    ("MaxPool", (1, 1, 7, 5), (3, 2), (2, 1), (1, 0), (2, 1), (1, 1), False, "explicit"),
    ("MaxPool", (2, 1, 7, 7), (2, 3), (1, 2), (1, 2), (0, 1), (2, 1), False, "explicit"),
    ("MaxPool", (1, 2, 5, 6), (3, 3), (2, 2), (0, 0), (0, 0), (1, 1), False, "same_upper"),
    ("MaxPool", (1, 1, 6, 7), (3, 2), (2, 2), (0, 1), (0, 0), (1, 2), False, "explicit", "ceil"),  # ragged last window
    ("AvgPool", (1, 2, 6, 6), (3, 3), (1, 1), (0, 0), (0, 0), (1, 1), False, "explicit"),
    ("AvgPool", (1, 1, 7, 6), (3, 2), (2, 2), (1, 1), (2, 0), (1, 1), False, "explicit"),  # pads averaged as 0
    ("AvgPool", (1, 2, 5, 5), (2, 3), (2, 1), (1, 2), (0, 1), (1, 1), True, "explicit"),  # pads excluded from the mean
]


def test_the_case_set_covers_the_brief():
    cases = CONV_CASES + GROUP_CONV_CASES
    assert {s for c in cases for s in c["strides"]} == {1, 2, 3}
    assert {d for c in cases for d in c["dilations"]} == {1, 2}
    assert {c["mode"] for c in cases} == {"explicit", "valid", "same_upper", "same_lower"}
    assert any(c["mode"] == "explicit" and c["pads_begin"] != c["pads_end"] for c in cases)
    assert {len(c["sp"]) for c in CONV_CASES} == {1, 2, 3}
    assert any(c["c_in"] == c["groups"] == c["c_out"] for c in GROUP_CONV_CASES)  # depthwise, multiplier 1
    assert any(c["c_in"] == c["groups"] and c["c_out"] == 2 * c["c_in"] for c in GROUP_CONV_CASES)  # multiplier 2
    assert any((c["groups"], c["c_in"], c["c_out"]) == (2, 4, 6) for c in GROUP_CONV_CASES)
    assert {s for c in TRANSPOSE_CASES for s in c["strides"]} == {1, 2, 3}
    assert any(op > 0 for c in TRANSPOSE_CASES for op in c["output_padding"])
    assert any(b > 0 or e > 0 for c in TRANSPOSE_CASES for b, e in zip(c["pads_begin"], c["pads_end"]))
    assert sum(map(len, (CONV_CASES, GROUP_CONV_CASES, TRANSPOSE_CASES, GROUP_TRANSPOSE_CASES,
                         MATMUL_CASES, EINSUM_CASES, POOL_CASES))) >= 50


def _data(case_seed, shape):
    return np.random.default_rng(case_seed).standard_normal(shape).astype(np.float32)


# --- convolution-like ops against the naive loops ----------------------------------------------


@pytest.mark.parametrize("index,case", list(enumerate(CONV_CASES)), ids=[_describe(c) for c in CONV_CASES])
def test_convolution(tmp_path, index, case):
    rank = len(case["sp"])
    x = _data(index, [case["batch"], case["c_in"], *case["sp"]])
    w = _data(1000 + index, [case["c_out"], case["c_in"], *case["kernel"]])
    param = ops.parameter(list(x.shape), np.float32)
    node = ops.convolution(param, ops.constant(w), case["strides"], case["pads_begin"], case["pads_end"],
                           case["dilations"], auto_pad=case["mode"])
    begin, end = resolve_pads(case["sp"], case["kernel"], case["strides"], case["dilations"], case["mode"],
                              case["pads_begin"], case["pads_end"])
    naive_out, naive_macs = naive_conv(x, w, 1, case["strides"], begin, end, case["dilations"])
    _, op, ov_out = count_and_run(tmp_path, [param], node, [x])
    assert_matches(op, ov_out, naive_out, naive_macs, "Convolution")
    assert op.kernel == tuple(case["kernel"]) and op.kernels == case["c_out"]
    assert len(op.output_shapes[0]) == rank + 2


@pytest.mark.parametrize("index,case", list(enumerate(GROUP_CONV_CASES)), ids=[_describe(c) for c in GROUP_CONV_CASES])
def test_group_convolution(tmp_path, index, case):
    groups = case["groups"]
    x = _data(100 + index, [case["batch"], case["c_in"], *case["sp"]])
    w = _data(1100 + index, [case["c_out"], case["c_in"] // groups, *case["kernel"]])
    w_grouped = w.reshape([groups, case["c_out"] // groups, case["c_in"] // groups, *case["kernel"]])
    param = ops.parameter(list(x.shape), np.float32)
    node = ops.group_convolution(param, ops.constant(w_grouped), case["strides"], case["pads_begin"],
                                 case["pads_end"], case["dilations"], auto_pad=case["mode"])
    begin, end = resolve_pads(case["sp"], case["kernel"], case["strides"], case["dilations"], case["mode"],
                              case["pads_begin"], case["pads_end"])
    naive_out, naive_macs = naive_conv(x, w, groups, case["strides"], begin, end, case["dilations"])
    _, op, ov_out = count_and_run(tmp_path, [param], node, [x])
    assert_matches(op, ov_out, naive_out, naive_macs, "GroupConvolution")


@pytest.mark.parametrize("index,case", list(enumerate(TRANSPOSE_CASES)), ids=[_describe(c) for c in TRANSPOSE_CASES])
def test_convolution_backprop_data(tmp_path, index, case):
    x = _data(200 + index, [1, case["c_in"], *case["sp"]])
    w = _data(1200 + index, [case["c_in"], case["c_out"], *case["kernel"]])  # [C_in, C_out, *k]
    param = ops.parameter(list(x.shape), np.float32)
    node = ops.convolution_backprop_data(param, ops.constant(w), case["strides"], pads_begin=case["pads_begin"],
                                         pads_end=case["pads_end"], dilations=case["dilations"],
                                         output_padding=case["output_padding"])
    naive_out, naive_macs = naive_conv_transpose(x, w[None], case["strides"], case["pads_begin"], case["pads_end"],
                                                 case["dilations"], case["output_padding"])
    _, op, ov_out = count_and_run(tmp_path, [param], node, [x])
    assert_matches(op, ov_out, naive_out, naive_macs, "ConvolutionBackpropData")


@pytest.mark.parametrize("index,case", list(enumerate(GROUP_TRANSPOSE_CASES)), ids=[_describe(c) for c in GROUP_TRANSPOSE_CASES])
def test_group_convolution_backprop_data(tmp_path, index, case):
    groups = case["groups"]
    x = _data(300 + index, [1, case["c_in"], *case["sp"]])
    w = _data(1300 + index, [groups, case["c_in"] // groups, case["c_out"] // groups, *case["kernel"]])
    param = ops.parameter(list(x.shape), np.float32)
    node = ops.group_convolution_backprop_data(param, ops.constant(w), case["strides"], pads_begin=case["pads_begin"],
                                               pads_end=case["pads_end"], dilations=case["dilations"],
                                               output_padding=case["output_padding"])
    naive_out, naive_macs = naive_conv_transpose(x, w, case["strides"], case["pads_begin"], case["pads_end"],
                                                 case["dilations"], case["output_padding"])
    _, op, ov_out = count_and_run(tmp_path, [param], node, [x])
    assert_matches(op, ov_out, naive_out, naive_macs, "GroupConvolutionBackpropData")


@pytest.mark.parametrize("index,case", list(enumerate(MATMUL_CASES)),
                         ids=[f"{a}x{b}_ta{int(ta)}_tb{int(tb)}" for a, b, ta, tb in MATMUL_CASES])
def test_matmul(tmp_path, index, case):
    shape_a, shape_b, transpose_a, transpose_b = case
    a, b = _data(400 + index, shape_a), _data(1400 + index, shape_b)
    pa, pb = ops.parameter(list(shape_a), np.float32), ops.parameter(list(shape_b), np.float32)
    node = ops.matmul(pa, pb, transpose_a, transpose_b)
    naive_out, naive_macs = naive_matmul(a, b, transpose_a, transpose_b)
    _, op, ov_out = count_and_run(tmp_path, [pa, pb], node, [a, b])
    assert_matches(op, ov_out, naive_out, naive_macs, "MatMul")


@pytest.mark.parametrize("index,case", list(enumerate(EINSUM_CASES)), ids=[eq for eq, _ in EINSUM_CASES])
def test_einsum(tmp_path, index, case):
    equation, shapes = case
    arrays = [_data(500 + 10 * index + i, s) for i, s in enumerate(shapes)]
    params = [ops.parameter(list(s), np.float32) for s in shapes]
    node = ops.einsum(params, equation)
    naive_out, naive_count = naive_einsum(equation, arrays)
    np.testing.assert_allclose(naive_out, np.einsum(equation, *[a.astype(np.float64) for a in arrays]), rtol=1e-10, atol=1e-10)
    _, op, ov_out = count_and_run(tmp_path, params, node, arrays)
    # two operands: one MAC per index combination; one operand: one add ("other" FLOP) per element
    assert_matches(op, ov_out, naive_out, naive_count, "Einsum", field="macs" if len(shapes) == 2 else "other")


@pytest.mark.parametrize("index,case", list(enumerate(POOL_CASES)),
                         ids=[f"{c[0]}_{'x'.join(map(str, c[1]))}_k{''.join(map(str, c[2]))}_{c[8]}_ex{int(c[7])}_{(c[9:] or ('floor',))[0]}"
                              for c in POOL_CASES])
def test_pooling(tmp_path, index, case):
    """other_flops = output elements × kernel size: the loop counts every tap it visits per
    window, the taps that fall on padding included."""
    kind, shape, kernel, strides, pads_begin, pads_end, dilations, exclude_pad, auto_pad, *rounding = case
    rounding = rounding[0] if rounding else "floor"
    x = _data(600 + index, shape)
    param = ops.parameter(list(shape), np.float32)
    if kind == "MaxPool":
        node = ops.max_pool(param, list(strides), list(dilations), list(pads_begin), list(pads_end), list(kernel),
                            rounding_type=rounding, auto_pad=auto_pad)
    else:
        assert dilations == (1, 1)
        node = ops.avg_pool(param, list(strides), list(pads_begin), list(pads_end), list(kernel), exclude_pad,
                            auto_pad=auto_pad)
    begin, end = resolve_pads(shape[2:], kernel, strides, dilations, auto_pad, pads_begin, pads_end)
    naive_out, visits = naive_pool(x, kind, kernel, strides, begin, end, dilations, exclude_pad, rounding)
    assert naive_out is not None
    _, op, ov_out = count_and_run(tmp_path, [param], node, [x])
    assert_matches(op, ov_out, naive_out, visits, kind, field="other")
    assert op.kernel == tuple(kernel)


# --- hand calculations: the seed exercise's first separable layer ------------------------------


def test_seed_exercise_depthwise_and_pointwise_by_hand(tmp_path):
    param = ops.parameter([1, 1, 28, 28], np.float32)
    dw = ops.group_convolution(param, ops.constant(_data(8, [1, 1, 1, 3, 3])), [1, 1], [0, 0], [0, 0], [1, 1])
    dw.set_friendly_name("sep/depthwise")
    pw = ops.convolution(dw, ops.constant(_data(9, [10, 1, 1, 1])), [1, 1], [0, 0], [0, 0], [1, 1])
    pw.set_friendly_name("sep/pointwise")
    path = tmp_path / "m.xml"
    ov.save_model(ov.Model([pw.output(0)], [param], "sep"), path, compress_to_fp16=False)
    cost = flopbench.count(path)
    # depthwise: 26·26 outputs × 3·3 taps = 6,084 MACs; pointwise: 26·26·10 outputs × 1 = 6,760 MACs
    assert cost.op("sep/depthwise").flops == 2 * 26 * 26 * 9 == 12_168
    assert cost.op("sep/pointwise").flops == 2 * 26 * 26 * 10 == 13_520
    assert cost.flops == cost.total_flops == 25_688


# --- an op without a formula -------------------------------------------------------------------


def test_ops_without_a_formula_are_reported_not_counted(tmp_path):
    assert "TopK" not in FORMULAS and "NonZero" not in FORMULAS
    param = ops.parameter([1, 2, 5, 5], np.float32)
    conv = ops.convolution(param, ops.constant(_data(10, [3, 2, 3, 3])), [1, 1], [0, 0], [0, 0], [1, 1])
    conv.set_friendly_name("conv")
    relu = ops.relu(conv)
    relu.set_friendly_name("relu")
    top = ops.topk(relu, 2, 1, "max", "value")
    top.set_friendly_name("topk")
    top2 = ops.topk(top.output(0), 2, 2, "min", "value")
    top2.set_friendly_name("topk2")
    nz = ops.non_zero(param)
    nz.set_friendly_name("nonzero")
    path = tmp_path / "m.xml"
    ov.save_model(ov.Model([top2.output(0), nz.output(0)], [param], "partial"), path, compress_to_fp16=False)
    for include_other in (False, True):
        cost = flopbench.count(path, include_other=include_other)
        assert cost.not_counted == {"NonZero": 1, "TopK": 2}
        for name in ("topk", "topk2", "nonzero"):
            op = cost.op(name)
            assert not op.counted and op.macs == 0 and op.other_flops == 0
            assert "no formula" in op.note
        conv_macs = 3 * 3 * 3 * 2 * 3 * 3  # 3·3 outputs × 3 channels × 2·3·3 taps
        assert cost.op("conv").macs == conv_macs and cost.op("conv").counted
        relu_flops = 3 * 3 * 3
        assert cost.op("relu").other_flops == relu_flops
        assert cost.macs == conv_macs
        assert cost.total_flops == 2 * conv_macs + (relu_flops if include_other else 0)
        assert cost.total_flops == sum(op.flops + (op.other_flops if include_other else 0) for op in cost.ops if op.counted)


# --- the pure formulas on OpViews, no OpenVINO -------------------------------------------------


def run(op_type, inputs, outputs, **attrs):
    return FORMULAS[op_type](OpView(type=op_type, input_shapes=tuple(inputs), output_shapes=tuple(outputs), attrs=attrs))


@pytest.mark.parametrize("op_type,rate", [
    ("Add", 1), ("Multiply", 1), ("Relu", 1), ("Exp", 1), ("SquaredDifference", 2), ("Clamp", 2),
    ("PRelu", 2), ("Sigmoid", 3), ("Swish", 4), ("HSwish", 5), ("Gelu", 5), ("Mish", 5),
])
def test_elementwise_rates(op_type, rate):
    # broadcast inputs: the count follows the output's elements
    assert run(op_type, [(1, 3, 1, 4), (2, 3, 5, 1)], [(2, 3, 5, 4)]) == Work(macs=0, other_flops=rate * 120)


def test_softmax_batchnorm_per_element():
    assert run("Softmax", [(2, 10)], [(2, 10)], axis=1) == Work(other_flops=5 * 20)
    assert run("LogSoftmax", [(2, 10)], [(2, 10)], axis=1) == Work(other_flops=5 * 20)
    bn_inputs = [(1, 4, 3, 3)] + [(4,)] * 4
    assert run("BatchNormInference", bn_inputs, [(1, 4, 3, 3)], epsilon=1e-5) == Work(other_flops=2 * 36)


@pytest.mark.parametrize("mode,out,per_element", [
    ("nearest", (1, 2, 8, 8), 1),
    ("linear", (1, 2, 8, 8), 7),  # bilinear: 4 weights × products + 3 adds
    ("linear_onnx", (1, 2, 8, 8), 7),
    ("cubic", (1, 2, 8, 8), 31),  # bicubic: 16 products + 15 adds
    ("linear", (1, 2, 4, 8), 3),  # only one axis resized
    ("cubic", (1, 2, 8, 4), 7),
    ("linear", (1, 2, 8, 8, 8), 15),  # trilinear
])
def test_interpolate_modes(mode, out, per_element):
    data = (1, 2, 4, 4) if len(out) == 4 else (1, 2, 4, 4, 4)
    assert run("Interpolate", [data, (len(out) - 2,)], [out], mode=mode) == Work(other_flops=math.prod(out) * per_element)


@pytest.mark.parametrize("op_type", ["Reshape", "Transpose", "Concat", "Squeeze", "Gather", "Pad"])
def test_data_movement_is_free(op_type):
    assert op_type in DATA_MOVEMENT
    assert run(op_type, [(2, 3, 4), (3,)], [(4, 3, 2)]) == Work(0, 0)


def test_conv_and_matmul_formulas_by_hand():
    # the seed exercise: depthwise 3x3 and pointwise 1→10 on 26x26, fc1 2880→128, fc2 128→10
    assert run("GroupConvolution", [(1, 1, 28, 28), (1, 1, 1, 3, 3)], [(1, 1, 26, 26)]).macs == 12_168 // 2
    assert run("Convolution", [(1, 1, 26, 26), (10, 1, 1, 1)], [(1, 10, 26, 26)]).macs == 13_520 // 2
    assert run("MatMul", [(1, 2880), (2880, 128)], [(1, 128)]).macs == 737_280 // 2
    assert run("MatMul", [(1, 128), (10, 128)], [(1, 10)], transpose_b=True).macs == 2_560 // 2
    assert run("MatMul", [(128, 1), (128, 10)], [(1, 10)], transpose_a=True).macs == 1_280
    assert run("ConvolutionBackpropData", [(1, 4, 5, 5), (4, 2, 3, 3)], [(1, 2, 11, 11)]).macs == 4 * 25 * 2 * 9
    assert run("GroupConvolutionBackpropData", [(1, 4, 5, 5), (2, 2, 3, 3, 3)], [(1, 6, 11, 11)]).macs == 4 * 25 * 3 * 9
    assert run("Einsum", [(2, 3), (3, 4)], [(2, 4)], equation="ij,jk->ik") == Work(macs=24)
    assert run("Einsum", [(4, 5)], [(4,)], equation="ij->i") == Work(other_flops=20)
    assert run("MaxPool", [(1, 2, 6, 6)], [(1, 2, 3, 3)], kernel=[2, 2]) == Work(other_flops=18 * 4)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    st.integers(1, 3), st.integers(1, 3), st.integers(1, 2),
    st.lists(st.integers(3, 6), min_size=2, max_size=2), st.lists(st.integers(1, 3), min_size=2, max_size=2),
    st.lists(st.integers(1, 3), min_size=2, max_size=2), st.lists(st.integers(1, 2), min_size=2, max_size=2),
    st.lists(st.integers(0, 2), min_size=4, max_size=4),
)
def test_convolution_formula_against_the_loop_without_openvino(c_in_g, c_out_g, groups, sp, kernel, strides, dilations, pads):
    """The pure formula, on shapes the loop itself produces, for many more settings than the
    OpenVINO cases (no engine, so cheap)."""
    pads_begin, pads_end = pads[:2], pads[2:]
    if any(i + b + e < (k - 1) * d + 1 for i, b, e, k, d in zip(sp, pads_begin, pads_end, kernel, dilations)):
        return
    c_in, c_out = c_in_g * groups, c_out_g * groups
    x = np.zeros([1, c_in, *sp])
    w = np.zeros([c_out, c_in_g, *kernel])
    out, macs = naive_conv(x, w, groups, strides, pads_begin, pads_end, dilations)
    if groups == 1:
        work = run("Convolution", [x.shape, w.shape], [out.shape])
    else:
        work = run("GroupConvolution", [x.shape, (groups, c_out_g, c_in_g, *kernel)], [out.shape])
    assert work == Work(macs=macs)
