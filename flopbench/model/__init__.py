"""Reading a model: any format OpenVINO reads, shapes fixed, ONNX through a weight-free twin."""
from .core import openvino_core
from .reading import FORMATS, LoadedModel, ModelInputInfo, detect_format, load, source_files
from .shapes import Shape, format_shape, parse_shape_spec

__all__ = ["load", "LoadedModel", "ModelInputInfo", "FORMATS", "detect_format", "source_files", "openvino_core",
           "Shape", "format_shape", "parse_shape_spec"]
