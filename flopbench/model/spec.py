"""`ModelSpec`: one model as a measurement takes it — the file (or model object), the shapes of its
dynamic inputs, the batch, the input data (`-i` files) and the seed of random inputs. Every command
that measures (bench, profile, run, compare, report) takes this one value instead of five loose
arguments; it checks itself when made, so an invalid one cannot exist."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputDataError, OptionError, one_line
from .shapes import check_batch, normalize_shape_spec

#: the keyword arguments a ModelSpec is made of besides the model (for functions that also take them loose)
SPEC_KEYWORDS = ("shape", "batch", "inputs", "seed", "layout", "example_input")


def check_seed(seed: Any, label: str = "--seed") -> int:
    """A random seed: a whole number, 0 or more (numpy refuses the rest with a traceback)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise OptionError(f"{label} {one_line(repr(seed), 80)} is not allowed", "give a whole number, 0 or more")
    return int(seed)


def input_specs(inputs: Any) -> tuple[str, ...] | None:
    """`-i` specs (`path` or `name:path`) as a tuple of strings; None when there are none."""
    if inputs is None:
        return None
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    specs = tuple(os.fspath(spec) if isinstance(spec, os.PathLike) else spec for spec in inputs)
    for spec in specs:
        if not isinstance(spec, str):
            raise InputDataError(f"input {spec!r} is not a file path", "give .npy file paths (or name:path)")
    return specs or None


@dataclass(frozen=True)
class ModelSpec:
    """A model and what it is fed.

    * ``model`` -- a file (IR .xml, .onnx, ...), an ``openvino.Model``, or a ``torch.nn.Module``
      with ``example_input``;
    * ``shape`` -- shapes of dynamic inputs, ``"input:1x3x224x224"`` or ``{"input": (1, 3, 224, 224)}``;
    * ``batch`` -- the batch size, set on every input's first dimension;
    * ``inputs`` -- ``.npy`` files (``path`` or ``name:path``), else seeded random data (``seed``);
    * ``layout`` -- how an input file's axes are ordered when it is not the model's order (``input[NHWC]``).
    """

    model: Any
    shape: Any = None
    batch: int | None = None
    inputs: tuple[str, ...] | None = None
    seed: int = 0
    layout: str | None = None
    example_input: Any = None

    def __post_init__(self) -> None:
        normalize_shape_spec(self.shape)  # the same errors as a --shape typed on the command line
        object.__setattr__(self, "batch", check_batch(self.batch))
        object.__setattr__(self, "seed", check_seed(self.seed))
        object.__setattr__(self, "inputs", input_specs(self.inputs))

    @property
    def input_files(self) -> list[str] | None:
        return list(self.inputs) if self.inputs else None

    @classmethod
    def of(cls, model: Any, **keywords: Any) -> "ModelSpec":
        """`model` itself when it already is a ModelSpec, else a ModelSpec of it and the keywords
        (`shape`, `batch`, `inputs`, `seed`, `layout`, `example_input`)."""
        if isinstance(model, ModelSpec):
            if keywords:
                raise OptionError(f"a ModelSpec was given together with {', '.join(sorted(keywords))}",
                                  "set them on the ModelSpec, or give the model itself with the keywords")
            return model
        unknown = sorted(set(keywords) - set(SPEC_KEYWORDS))
        if unknown:
            raise OptionError(f"no model setting {', '.join(map(repr, unknown))}", f"the model's settings: {', '.join(SPEC_KEYWORDS)}")
        return cls(model, **keywords)
