"""The CLI's process imports OpenVINO without its model-conversion API until something uses it.

`import openvino` ends with `from openvino.tools.ovc import convert_model`, which imports the
TensorFlow frontend's helpers, numpy.ma, urllib, ssl and openvino_telemetry, and sends an "import"
telemetry event from a forked process that it waits for. Measured on the 2-core machine this was
written on (`python benchmarks/count_vs_peers.py`): about 0.17 s of a 0.42 s `import openvino`,
more than the whole count of a MobileNetV2. Reading, counting, running and profiling a model never
call `convert_model` (only a torch module given to the Python API is converted), so the first
`import openvino` of a CLI process skips that one import, and `openvino.convert_model` imports it
(and so sends its event) on first use, as it would have at import.
"""
from __future__ import annotations

import contextlib
import sys

CONVERSION_API = "openvino.tools.ovc"
PACKAGE = CONVERSION_API.partition(".")[0]  # the package whose import this module trims


class _DeferConversionApi:
    """A meta path finder that refuses `openvino.tools.ovc` once: the first import of it is the
    one openvino's own `__init__` makes (any import of it starts by initializing `openvino`), and
    openvino catches that ImportError. It then removes itself, so every later import goes through."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != CONVERSION_API:
            return None
        _remove(self)
        package = sys.modules.get(PACKAGE)
        if package is not None:
            _serve_conversion_api_lazily(package)
        raise ImportError(f"{CONVERSION_API} is imported when openvino.convert_model is first used")

    def invalidate_caches(self):
        pass


def _remove(finder) -> None:
    with contextlib.suppress(ValueError):
        sys.meta_path.remove(finder)


def _serve_conversion_api_lazily(package) -> None:
    """`openvino.convert_model` (and `from openvino import convert_model`) import it on first use."""
    earlier = package.__dict__.get("__getattr__")

    def conversion_api_attribute(name: str):
        if name == "convert_model":
            from openvino.tools.ovc import convert_model

            package.convert_model = convert_model
            return convert_model
        if earlier is not None:
            return earlier(name)
        raise AttributeError(f"module {package.__name__!r} has no attribute {name!r}")

    package.__getattr__ = conversion_api_attribute


@contextlib.contextmanager
def openvino_without_conversion_api():
    """Within this block, the first `import openvino` (if it is the first of the process) skips
    the conversion API; nothing changes when openvino is already imported."""
    if PACKAGE in sys.modules:
        yield
        return
    finder = _DeferConversionApi()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        _remove(finder)
