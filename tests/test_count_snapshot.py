"""Counting stays exactly what it was: every op and layer of the `onnx` package's light models.

`tests/data/light_counts.json.gz` was recorded from flopbench's counts before counting was made
faster (issue 18), with `python tests/test_count_snapshot.py --record`. Any change to a MAC, a FLOP,
a parameter, a byte, a shape, a layer or a name of these nine real models (AlexNet, DenseNet-121,
Inception v1/v2, ResNet-50, ShuffleNet, SqueezeNet, VGG-19, ZFNet-512) fails here and names the
first op that differs. Fields added to the rows later are not compared; recorded fields all are.
Re-record only when a count is meant to change, and say why in the commit.
"""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import onnx
import pytest

import flopbench

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
SNAPSHOT = Path(__file__).parent / "data" / "light_counts.json.gz"
MODELS = sorted(p.name for p in LIGHT.glob("light_*.onnx"))


def counted(path: Path) -> dict:
    cost = flopbench.count(path)
    document = cost.to_dict()
    for key in ("model", "metadata"):  # the path and the run's metadata, not counts
        document.pop(key)
    return document


def _recorded() -> dict:
    with gzip.open(SNAPSHOT, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _restricted(value, like):
    """`value` with only the keys `like` has, recursively: later fields are not compared."""
    if isinstance(like, dict) and isinstance(value, dict):
        return {k: _restricted(value.get(k), like[k]) for k in like}
    if isinstance(like, list) and isinstance(value, list) and len(like) == len(value):
        return [_restricted(v, l) for v, l in zip(value, like)]
    return value


def test_every_light_model_is_recorded():
    assert len(MODELS) == 9
    assert sorted(_recorded()) == MODELS


@pytest.mark.parametrize("name", MODELS)
def test_counts_unchanged(name):
    want = _recorded()[name]
    got = _restricted(counted(LIGHT / name), want)
    for key in ("totals", "not_counted", "dynamic_shapes", "inputs"):
        assert got[key] == want[key], key
    assert len(got["ops"]) == len(want["ops"])
    for index, (g, w) in enumerate(zip(got["ops"], want["ops"])):
        assert g == w, f"op {index} ({w['name']}) differs"
    assert len(got["layers"]) == len(want["layers"])
    for index, (g, w) in enumerate(zip(got["layers"], want["layers"])):
        assert g == w, f"layer {index} ({w['name']}) differs"
    assert got == want


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    SNAPSHOT.parent.mkdir(exist_ok=True)
    data = {name: counted(LIGHT / name) for name in MODELS}
    with gzip.open(SNAPSHOT, "wt", encoding="utf-8", compresslevel=9) as handle:
        json.dump(data, handle, sort_keys=True, separators=(",", ":"))
    print(f"recorded {len(data)} models in {SNAPSHOT} ({SNAPSHOT.stat().st_size:,} bytes)")
