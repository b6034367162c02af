"""flopbench: how much work a neural network is, layer by layer, and how fast it really runs."""
from .version import __version__

from .counting import LayerCost, ModelCost, OpCost, count  # noqa: E402
from .errors import FlopbenchError  # noqa: E402
from .model import LoadedModel, load  # noqa: E402
from .results.documents import load_result, save_result  # noqa: E402

# measuring is imported when first used: `flopbench flops` and `import flopbench` stay light
_LAZY = {"bench": "measure.bench", "BenchReport": "measure.bench", "BenchResult": "measure.bench",
         "run": "measure.run", "RunResult": "measure.run", "profile": "profiling.profile",
         "ProfileResult": "profiling.profile", "roofline": "profiling.roofline", "Roofline": "profiling.roofline",
         "ModelSpec": "model.spec", "EngineConfig": "measure.engines", "RunPolicy": "measure.policy",
         "compare": "comparing.compare", "Comparison": "comparing.compare", "report": "reporting.report", "Report": "reporting.report"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["count", "load", "bench", "run", "load_result", "save_result", "LoadedModel", "ModelCost", "LayerCost", "OpCost",
           "BenchReport", "BenchResult", "RunResult", "profile", "ProfileResult", "roofline", "Roofline", "ModelSpec", "EngineConfig", "RunPolicy",
           "compare", "Comparison", "report", "Report", "FlopbenchError", "__version__"]
