"""Models given as Python objects: an `openvino.Model`, or a `torch.nn.Module` with an example input
(converted by `openvino.convert_model`; torch is an optional extra)."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ModelFileError, engine_message

TORCH_FIX = "pass example_input=torch tensor (or a tuple of them) shaped like the model's input"


def is_model_object(model: Any) -> bool:
    """True for an `openvino.Model` or a `torch.nn.Module`: models that are not files."""
    return _is_openvino_model(model) or _is_torch_module(model)


def _is_openvino_model(model: Any) -> bool:
    return type(model).__module__.startswith("openvino.") and type(model).__name__ == "Model"


def _is_torch_module(model: Any) -> bool:
    return any(f"{c.__module__}.{c.__name__}" == "torch.nn.modules.module.Module" for c in type(model).__mro__)


def object_name(model: Any) -> str:
    """How a model object is named in results: `<openvino.Model name>`, `<torch Net>`."""
    if _is_openvino_model(model):
        return f"<openvino.Model {model.get_friendly_name()}>"
    return f"<torch {type(model).__name__}>"


def _examples(example_input: Any) -> list[Any]:
    return list(example_input) if isinstance(example_input, (tuple, list)) else [example_input]


def to_openvino_model(model: Any, example_input: Any = None):
    """An `openvino.Model` of `model`, never the caller's own object (counting reshapes it): an
    openvino.Model is cloned; a torch.nn.Module is converted with its example input, whose shapes
    become the model's."""
    import openvino as ov

    if _is_openvino_model(model):
        return model.clone()
    if not _is_torch_module(model):
        raise ModelFileError(f"model {type(model).__name__} is neither a file path, an openvino.Model nor a torch.nn.Module",
                             "give a model file path, an openvino.Model, or a torch.nn.Module with example_input=...")
    if example_input is None:
        raise ModelFileError(f"the torch model {type(model).__name__} needs an example input to be traced", TORCH_FIX)
    try:
        converted = ov.convert_model(model, example_input=example_input)
    except Exception as exc:
        raise ModelFileError(f"openvino.convert_model cannot convert the torch model {type(model).__name__}: {engine_message(exc)}",
                             f"check the model runs on the example input; {TORCH_FIX}") from None
    shapes = [tuple(getattr(e, "shape", ())) for e in _examples(example_input)]
    parameters = converted.get_parameters()
    if len(shapes) == len(parameters):  # the traced model's dimensions are dynamic: fix them to the example's
        converted.reshape({p.output(0): ov.PartialShape(list(s)) for p, s in zip(parameters, shapes)})
    converted.set_friendly_name(type(model).__name__)
    _name_by_module_path(converted)
    return converted


# torch's exporter names an op after the module that made it and the aten op it came from
# (`__module.features.0/aten::_convolution/Convolution`), or a function the forward calls after it
# (`aten::flatten/Reshape`); a user knows the module path (`features.0`) and the function (`flatten`)
_TORCH_OP_NAME = re.compile(r"^(?:__module\.(?P<path>[^/]+)|aten::(?P<function>[^/]+))/(?P<rest>.+)$")
# the op that does a module's work: it takes the module's path, so the layer counted from it does
# (a transposed convolution, grouped or not, is a *BackpropData op; reading comes before counting,
# so this is not taken from the formulas' facts)
_WORK_OPS = {"Convolution", "GroupConvolution", "MatMul"}


def _does_the_work(op) -> bool:
    return op.get_type_name() in _WORK_OPS or op.get_type_name().endswith("BackpropData")


def _name_by_module_path(model) -> None:
    """Rename the ops of a converted torch module after their module's path: the op doing the
    module's work (or its only op) is `features.0`, the others `features.0/<what it was>`."""
    by_path: dict[str, list[tuple[Any, str]]] = {}
    for op in model.get_ordered_ops():
        found = _TORCH_OP_NAME.match(op.get_friendly_name())
        if found and op.get_type_name() not in ("Constant", "Parameter", "Result"):
            by_path.setdefault(found["path"] or found["function"], []).append((op, found["rest"].replace("aten::", "")))
    taken = {op.get_friendly_name() for op in model.get_ordered_ops()}
    for path, ops in by_path.items():
        work = [op for op, _ in ops if _does_the_work(op)]
        head = work[0] if len(work) == 1 else ops[0][0] if len(ops) == 1 else None
        for op, rest in ops:
            name = path if op is head else f"{path}/{rest}"
            unique, n = name, 1
            while unique in taken:  # never two ops of one name: results are keyed by it
                n += 1
                unique = f"{name}_{n}"
            taken.discard(op.get_friendly_name())
            taken.add(unique)
            op.set_friendly_name(unique)


class ModelObjectFile:
    """A model object saved as an IR in a temporary folder, for engines that compile from a file;
    the folder is removed on close."""

    def __init__(self, model: Any, example_input: Any = None):
        import openvino as ov

        ov_model = to_openvino_model(model, example_input)
        self.folder = Path(tempfile.mkdtemp(prefix="flopbench-model-"))
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in ov_model.get_friendly_name()) or "model"
        self.path = self.folder / f"{stem}.xml"
        try:
            ov.save_model(ov_model, str(self.path), compress_to_fp16=False)  # the weights as they are
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __fspath__(self) -> str:
        return os.fspath(self.path)
