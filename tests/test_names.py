"""The names of ops a file leaves to OpenVINO are the same in every count of the file: twice in one
process (OpenVINO's counter has moved on) and in another process."""
import json
import subprocess
import sys
from pathlib import Path

import onnx

import flopbench

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
# SqueezeNet's last node, a Softmax of opset 9 named n65 with output softmaxout_1, is read by
# OpenVINO as Reshape -> Softmax -> Reshape; the first two have no name in the file
MODEL = LIGHT / "light_squeezenet.onnx"
NAMES = "import flopbench, json, sys; c = flopbench.count(sys.argv[1]); print(json.dumps([[o.name for o in c.ops], [l.name for l in c.layers]]))"


def names(cost) -> list[list[str]]:
    return [[op.name for op in cost.ops], [layer.name for layer in cost.layers]]


def test_two_counts_in_one_process_and_one_in_another_name_every_op_alike():
    first = names(flopbench.count(MODEL))
    flopbench.count(LIGHT / "light_bvlc_alexnet.onnx")  # moves OpenVINO's counter on
    second = names(flopbench.count(MODEL))
    other = subprocess.run([sys.executable, "-c", NAMES, str(MODEL)], capture_output=True, text=True, check=True)
    assert first == second == json.loads(other.stdout)
    ops, layers = first
    assert ops[-3:] == ["softmaxout_1/Reshape", "softmaxout_1/Softmax", "softmaxout_1"]
    assert layers[-3:] == ["softmaxout_1/Reshape", "softmaxout_1/Softmax", "softmaxout_1"]
    assert len(set(ops)) == len(ops)
