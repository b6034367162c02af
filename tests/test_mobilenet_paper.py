"""The zoo's MobileNets against the papers' published tables, and std_cnn against a hand calculation.

Howard et al. 2017 (arXiv 1704.04861): mult-adds within 0.5%, parameters equal once rounded as
the paper rounds (millions, one decimal). The paper counts weights only (no BatchNorm, no bias):
`study.paper` counts that way. Keras's `model.summary()` totals (BatchNorm included, 4 per
channel) are a second, independent truth for the whole parameter count.
"""
from __future__ import annotations

import pytest

import flopbench
from flopbench.study.paper import paper_totals, shares
from flopbench.zoo import parameter_count, write_zoo_model


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("mobilenets")


def _count(folder, name, alpha=None, resolution=None):
    files = write_zoo_model(name, folder, fmt="ir", alpha=alpha, resolution=resolution)
    return flopbench.count(files.xml)


def _check(cost, mult_adds_m: float, params_m: float | None):
    macs, params = paper_totals(cost)
    assert abs(macs / 1e6 - mult_adds_m) / mult_adds_m < 0.005, macs
    if params_m is not None:
        assert round(params / 1e6, 1) == params_m, params


@pytest.mark.parametrize("name, alpha, resolution, mult_adds_m, params_m", [
    ("mobilenet_v1", None, None, 569, 4.2),         # Table 4, 8
    ("conv_mobilenet_v1", None, None, 4866, 29.3),  # Table 4
    ("mobilenet_v1", 0.75, None, 325, 2.6),         # Table 6
    ("mobilenet_v1", 0.5, None, 149, 1.3),
    ("mobilenet_v1", 0.25, None, 41, 0.5),
    ("mobilenet_v1", None, 192, 418, 4.2),          # Table 7
    ("mobilenet_v1", None, 160, 290, 4.2),
    ("mobilenet_v1", None, 128, 186, 4.2),
])
def test_mobilenet_v1_tables(folder, name, alpha, resolution, mult_adds_m, params_m):
    _check(_count(folder, name, alpha, resolution), mult_adds_m, params_m)


def test_table_2_shares_by_layer_type(folder):
    got = shares(_count(folder, "mobilenet_v1"))
    paper = {"Conv 1x1": (94.86, 74.59), "Conv DW 3x3": (3.06, 1.06), "Fully Connected": (0.18, 24.33)}
    for kind, (macs, params) in paper.items():
        assert got[kind][0] == pytest.approx(macs, abs=0.01), kind
        assert got[kind][1] == pytest.approx(params, abs=0.01), kind
    # The paper prints 1.19% for the first convolution's mult-adds, but its four shares then add up
    # to 99.29%; 112·112·32·27 = 10.84M of 568.7M is 1.91% (the digits swapped). Parameters agree.
    assert got["Conv 3x3"][0] == pytest.approx(100 * 112 * 112 * 32 * 27 / 568_740_352, abs=1e-9)
    assert got["Conv 3x3"][0] == pytest.approx(1.91, abs=0.01)
    assert got["Conv 3x3"][1] == pytest.approx(0.02, abs=0.01)


def test_mobilenet_v2_paper_and_keras(folder):
    cost = _count(folder, "mobilenet_v2")
    _check(cost, 300, None)  # Sandler et al. 2018, Table 4: 300M mult-adds
    assert cost.params == 3_538_984  # keras.applications.MobileNetV2(): "Total params: 3,538,984"
    assert cost.params == parameter_count("mobilenet_v2")
    kinds = [layer.type for layer in cost.layers]
    assert kinds.count("SeparableConv2D") == 17  # one depthwise + projection per bottleneck block
    residuals = [op.name for op in cost.ops if op.type == "Add" and op.name != "fc/bias"]
    assert len(residuals) == 10  # stride 1 and as many channels out as in: 1 + 2 + 3 + 2 + 2 blocks of Table 2


def test_mobilenet_v1_keras_total(folder):
    cost = _count(folder, "mobilenet_v1")
    assert cost.params == 4_253_864  # keras.applications.MobileNet(): "Total params: 4,253,864"
    assert cost.params == parameter_count("mobilenet_v1")
    assert [layer.type for layer in cost.layers].count("SeparableConv2D") == 13
    assert sum(op.type == "BatchNormInference" for op in cost.ops) == 27
    assert sum(op.type == "Relu" for op in cost.ops) == 27


def test_the_twin_has_the_same_layers_but_standard(folder):
    sep = _count(folder, "mobilenet_v1")
    std = _count(folder, "conv_mobilenet_v1")
    assert [l.name for l in sep.layers] == [l.name for l in std.layers]
    assert [l.output_shape for l in sep.layers] == [l.output_shape for l in std.layers]
    assert {l.type for l in std.layers} == {"Conv2D", "GlobalAvgPool2D", "Flatten", "FullyConnected", "Softmax"}


def test_std_cnn_by_hand(zoo_dir):
    cost = flopbench.count(zoo_dir / "std_cnn.xml")
    # conv1: 1x28x28 -> 10x26x26, 3x3: 10·26·26·(1·3·3) MACs, 10·9 + 10 params
    # conv2: 10x26x26 -> 5x24x24, 3x3: 5·24·24·(10·3·3) MACs, 5·90 + 5 params
    # fc1: 2880 -> 128, fc2: 128 -> 10 (as sep_cnn)
    hand = {"conv1": (60_840, 100), "conv2": (259_200, 455), "fc1": (368_640, 368_768), "fc2": (1_280, 1_290)}
    assert {name: (cost.layer(name).macs, cost.layer(name).params) for name in hand} == hand
    assert cost.macs == 60_840 + 259_200 + 368_640 + 1_280 == 689_960
    assert cost.total_flops == 2 * 689_960
    assert cost.params == 100 + 455 + 368_768 + 1_290


def test_the_study_command_writes_the_papers_tables(capfd, tmp_path):
    """study mobilenet -o tables.json: the tables as a result of their own (flopbench/paper/1), written
    to the file -o names (its format from its suffix), valid against the schema, loading back."""
    import json

    import flopbench
    from flopbench.cli.main import main
    from flopbench.results.schema import validate

    target = tmp_path / "tables.json"
    assert main(["study", "mobilenet", "-o", str(target)]) == 0
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err.strip() == f"wrote {target}"
    printed = json.loads(target.read_text())
    validate(printed)
    assert printed["schema"] == "flopbench/paper/1"
    loaded = flopbench.load_result(target)
    assert json.dumps(loaded.to_dict()) == json.dumps(printed)
    rows = {row["model"]: row for row in printed["rows"]}
    assert len(rows) == 10 and all(abs(row["mult_adds_error"]) < 0.005 for row in rows.values())
    assert rows["Conv 3x3, 14x14x512 → 512"]["params"] == 512 * 512 * 9  # Table 3, built and converted by the command
    assert rows["Depthwise Separable Conv"]["params"] == 512 * 9 + 512 * 512
    assert all(round(row["params"] / 1e6, 2 if row["table"] == "3" else 1) == row["paper_params_m"] for row in rows.values())
    assert printed["table2_shares"]["Conv 1x1"] == pytest.approx([94.86, 74.59], abs=0.01)
