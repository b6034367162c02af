"""`quantize()`: an INT8 twin of a float model by NNCF post-training quantization.

NNCF puts FakeQuantize ops on the activations, calibrated on the samples given, and stores the
weights as int8 with a per-channel scale (`i8 Constant → Convert → Multiply`); OpenVINO runs the
result with integer kernels. Seeded random calibration data makes a model that runs like an INT8
model but whose accuracy is unknown: the result says so, and real samples (`calibration=`) fix it.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..counting import count
from ..errors import EngineError, ModelFileError, OptionError, OutputError, engine_message
from ..model.core import quiet_native_stderr
from ..model.folding import fold_openvino_constants
from ..model.reading import load, read_openvino_model, source_files
from ..results import writing
from ..results.codec import json_field, result_kind
from ..results.metadata import result_metadata
from .calibration import folder_samples, random_samples

DEFAULT_SAMPLES = 300  # NNCF's own default subset size
INSTALL_HINT = 'install it with: pip install "flopbench[int8]" (or pip install nncf)'


@result_kind("quantize", version=1)
@dataclass(frozen=True)
class QuantizeResult:
    """What `quantize` wrote and what the INT8 twin counts, beside its float source."""

    source: str
    xml: str
    bin: str
    calibration: str  # "300 random samples (seed 0)" or "64 files from calib/"
    samples: int
    random_calibration: bool  # calibrated on random data: it runs like an INT8 model, its accuracy is unknown
    fake_quantize_ops: int
    macs: int
    integer_macs: int
    params: int
    weight_bytes: int
    source_weight_bytes: int
    seconds: float
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False)
    method: str = "nncf post-training quantization (INT8)"
    # the convolutions and matmuls the twin still runs in float, by op type e.g. one Einsum
    float_mac_ops: tuple[tuple[str, int], ...] = json_field(mapping=True, default=())

    @property
    def integer_share(self) -> float:
        """The share of the float model's convolution and matmul MACs the twin runs in int8."""
        return self.integer_macs / self.macs if self.macs else 0.0


def output_paths(model: str | os.PathLike, output: str | os.PathLike) -> tuple[Path, Path]:
    """The IR to write: `output` itself when it names an .xml, else `<output>/<model name>.xml`."""
    target = Path(output)
    xml = target if target.suffix.lower() == ".xml" else target / f"{Path(model).stem}.xml"
    return xml, xml.with_suffix(".bin")


def _nncf():
    try:
        import nncf
    except ImportError:
        raise EngineError("flopbench quantize needs NNCF, which is not installed", INSTALL_HINT) from None
    return nncf


def _check_float(cost, path: Path) -> None:
    fake = sum(1 for op in cost.ops if op.type == "FakeQuantize")
    if fake or cost.integer_macs:
        what = f"{fake} FakeQuantize ops" if fake else f"{cost.integer_macs:,} of its MACs already run on integers"
        raise ModelFileError(f"{path.name} is already quantized ({what})", "quantize the float model it was made from")


def quantize(model: str | os.PathLike, output: str | os.PathLike, calibration: str | os.PathLike | None = None,
             samples: int | None = None, seed: int = 0, shape: str | dict | None = None, batch: int | None = None) -> QuantizeResult:
    """Write an INT8 twin of `model` (any format OpenVINO reads) as IR to `output` (a folder, or an
    .xml path), calibrated on the .npy files of `calibration` (one sample each) or on `samples`
    seeded random samples (default 300)."""
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
        raise OptionError(f"--samples {samples!r} is not allowed", "give a whole number of calibration samples, 1 or more")
    path = Path(model)
    xml, bin_path = output_paths(path, output)
    protect = source_files(path)
    nncf = _nncf()
    loaded = load(path, shape=shape, batch=batch)
    source_cost = count(loaded)
    _check_float(source_cost, path)
    if calibration is not None:
        data = folder_samples(calibration, loaded.inputs, samples)
        described = f"{len(data)} files from {calibration}"
    else:
        data = random_samples(loaded.inputs, samples or DEFAULT_SAMPLES, seed)
        described = f"{len(data)} random samples (seed {seed})"
    try:
        xml.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {xml.parent} ({exc.strerror or exc})", "choose a folder you can write to with -o") from None
    for target in (xml, bin_path):  # before the slow part: a wrong output fails in seconds
        writing.check_writable(target, protect=protect)
    started = time.perf_counter()
    try:
        with quiet_native_stderr():
            float_model = read_openvino_model(path)  # the IR written keeps the names the float model's count gave
        float_model.reshape({i.name: list(i.shape) for i in loaded.inputs})
        # weights the graph computes (ConstantOfShape ...) become constants NNCF can quantize
        fold_openvino_constants(float_model)
    except ModelFileError:  # it names the problem itself (a custom op nothing runs)
        raise
    except Exception as exc:
        raise ModelFileError(f"OpenVINO cannot read {path.name} with its weights: {engine_message(exc)}", "check that the model is complete") from None
    names = [i.name for i in loaded.inputs]
    dataset = nncf.Dataset(data, lambda sample: sample[names[0]] if len(names) == 1 else tuple(sample[n] for n in names))
    previous = logging.getLogger("nncf").level
    nncf.set_log_level(logging.ERROR)
    try:
        # NNCF draws progress bars on stdout: they go to stderr, stdout is the command's output
        with contextlib.redirect_stdout(sys.stderr):
            quantized = nncf.quantize(float_model, dataset, subset_size=len(data))
    except Exception as exc:
        raise EngineError(f"NNCF could not quantize {path.name}: {engine_message(exc)}", "check that the model runs on OpenVINO (flopbench run)") from None
    finally:
        nncf.set_log_level(previous or logging.INFO)
    seconds = time.perf_counter() - started
    if source_cost.macs and not count(quantized).integer_macs:  # checked before anything is written
        float_ops = _float_mac_ops(source_cost)
        raise EngineError(f"NNCF quantized none of {path.name}'s convolutions and matmuls (0 of {source_cost.macs:,} MACs in int8; "
                          f"float: {_describe_ops(float_ops)}): the twin would run as the float model does; nothing written",
                          "NNCF quantizes Convolution, MatMul and the like with constant weights; count or bench the float model as it is")
    writing.save_openvino_model(quantized, xml, protect=protect)
    twin = count(xml)
    return QuantizeResult(
        source=str(path), xml=str(xml), bin=str(bin_path), calibration=described, samples=len(data),
        random_calibration=calibration is None, fake_quantize_ops=sum(1 for op in twin.ops if op.type == "FakeQuantize"),
        macs=twin.macs, integer_macs=twin.integer_macs, params=twin.params, weight_bytes=twin.weight_bytes,
        source_weight_bytes=source_cost.weight_bytes, seconds=seconds,
        metadata=result_metadata(nncf=getattr(nncf, "__version__", "")),
        float_mac_ops=tuple(sorted(_float_mac_ops(twin).items())),
    )


def _float_mac_ops(cost) -> dict[str, int]:
    """The convolutions and matmuls (ops with MACs) that do not run in int8, by op type."""
    found: dict[str, int] = {}
    for op in cost.ops:
        if op.macs and not op.integer:
            found[op.type] = found.get(op.type, 0) + 1
    return found


def _describe_ops(by_type: dict[str, int]) -> str:
    return ", ".join(f"{op_type} ×{n}" for op_type, n in sorted(by_type.items(), key=lambda item: -item[1])) or "none"
