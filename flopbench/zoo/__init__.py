"""Reference models, built in code with deterministic weights: the exercise's sep_cnn, MobileNets,
VGG16, each separable family with its standard twin generated from the same spec."""
from .families import ZOO_NAMES, check_name, describe
from .models import (FORMATS, INPUT_NAME, ONNX_IR_VERSION, ONNX_OPSET, OUTPUT_NAME, ZooFiles, build_onnx, build_openvino, build_tflite,
                     file_stem, parameter_count, planned_bytes, sample_image, write_zoo_model)

__all__ = ["ZOO_NAMES", "ZooFiles", "FORMATS", "build_onnx", "build_openvino", "build_tflite", "check_name", "describe", "file_stem",
           "parameter_count", "planned_bytes", "sample_image", "write_zoo_model", "INPUT_NAME", "OUTPUT_NAME",
           "ONNX_OPSET", "ONNX_IR_VERSION"]
