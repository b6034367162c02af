"""Arguments several commands share."""
from __future__ import annotations


def add_model(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file: IR .xml (with its .bin), .onnx, .tflite ...")
    parser.add_argument("--shape", help="input shapes for dynamic dimensions: name:1x3x224x224[,name2:...]")
