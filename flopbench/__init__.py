"""flopbench: how much work a neural network is, layer by layer, and how fast it really runs."""
from .version import __version__

from .errors import FlopbenchError  # noqa: E402

# every name is imported when first used: `import flopbench` stays light, and the command line's
# process (which imports this package first) takes over Ctrl-C within moments of starting rather
# than after the second OpenVINO and numpy take to import (a signal before that is a traceback)
_LAZY = {"count": "counting", "LayerCost": "counting", "ModelCost": "counting", "OpCost": "counting",
         "load": "model", "LoadedModel": "model", "load_result": "results.documents", "save_result": "results.documents",
         "bench": "measure.bench", "BenchReport": "measure.bench", "BenchResult": "measure.bench",
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
