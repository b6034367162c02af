"""flopbench: how much work a neural network is, layer by layer, and how fast it really runs."""
from .cost import LayerCost, ModelCost, OpCost
from .counting import count
from .errors import FlopbenchError
from .loading import LoadedModel, load

__version__ = "0.1.0"
__all__ = ["count", "load", "LoadedModel", "ModelCost", "LayerCost", "OpCost", "FlopbenchError", "__version__"]
