"""Counting: op-type sets, the formula registry, graph → ops, ops → layers, the cost rows."""
from .cost import LayerCost, ModelCost, OpCost
from .ops import count, count_loaded

__all__ = ["count", "count_loaded", "ModelCost", "LayerCost", "OpCost"]
