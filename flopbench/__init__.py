"""flopbench: how much work a neural network is, layer by layer, and how fast it really runs."""
__version__ = "0.1.0"

from .counting import LayerCost, ModelCost, OpCost, count  # noqa: E402
from .errors import FlopbenchError  # noqa: E402
from .model import LoadedModel, load  # noqa: E402

__all__ = ["count", "load", "LoadedModel", "ModelCost", "LayerCost", "OpCost", "FlopbenchError", "__version__"]
