"""INT8 twins of float models: NNCF post-training quantization, calibrated on real or seeded random data."""
from .ptq import QuantizeResult, quantize

__all__ = ["quantize", "QuantizeResult"]
