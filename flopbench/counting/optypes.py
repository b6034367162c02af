"""Op-type sets: the one place that says which OpenVINO op types are convolutions, anchors of a
layer, epilogues, graph plumbing. Formulas, op rows and layers all read them from here."""
from __future__ import annotations

# Graph plumbing that is not an operation of the network.
STRUCTURAL = frozenset({"Parameter", "Constant", "Result"})

# Convolution-like: weights [C_out, C_in, K...] (grouped: [G, C_out/G, C_in/G, K...]), a spatial kernel.
CONVOLUTIONS = frozenset({"Convolution", "GroupConvolution", "ConvolutionBackpropData", "GroupConvolutionBackpropData",
                          "DeformableConvolution"})
TRANSPOSED_CONVOLUTIONS = frozenset({"ConvolutionBackpropData", "GroupConvolutionBackpropData"})
POOLS = frozenset({"MaxPool", "AvgPool"})

# An op that starts a layer and takes the epilogue that follows it; a FakeQuantize anchors the
# dequantization that follows it (ONNX QDQ: Convert, Subtract, Multiply).
ANCHORS = CONVOLUTIONS | {"MatMul", "Einsum", "FakeQuantize"}
# Elementwise work with constants that joins the anchor's layer: bias add, scale, batch norm,
# activation, (de)quantization.
EPILOGUE = frozenset({
    "Add", "Subtract", "Multiply", "Divide", "Maximum", "Minimum", "BatchNormInference", "FakeQuantize", "Convert",
    "Relu", "Clamp", "PRelu", "Sigmoid", "Tanh", "Swish", "HSwish", "HSigmoid", "Gelu", "Mish",
    "Elu", "Selu", "SoftPlus", "HardSigmoid",
})

# Constant inputs that configure an op rather than weigh it: Interpolate's sizes / scales / axes.
SETTING_INPUTS: dict[str, tuple[int, ...]] = {"Interpolate": (1, 2, 3)}
