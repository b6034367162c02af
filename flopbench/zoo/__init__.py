"""Reference models, built in code with deterministic weights (the exercise's sep_cnn and its family)."""
from .models import (INPUT_NAME, ONNX_IR_VERSION, ONNX_OPSET, OUTPUT_NAME, ZOO_NAMES, ZooFiles, build_onnx, build_openvino,
                     check_name, describe, sample_image, write_zoo_model)

__all__ = ["ZOO_NAMES", "ZooFiles", "build_onnx", "build_openvino", "check_name", "describe", "sample_image",
           "write_zoo_model", "INPUT_NAME", "OUTPUT_NAME", "ONNX_OPSET", "ONNX_IR_VERSION"]
