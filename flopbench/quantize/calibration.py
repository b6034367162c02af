"""Calibration samples for post-training quantization: a folder of .npy arrays, or seeded random data."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from ..errors import InputDataError
from ..measure.inputs import fit_array, prepare_inputs, read_npy
from ..model.reading import ModelInputInfo


def random_samples(inputs: tuple[ModelInputInfo, ...], count: int, seed: int) -> list[dict[str, np.ndarray]]:
    """`count` samples of seeded random data, one array per input, as bench makes its inputs."""
    return [prepare_inputs(inputs, None, seed=seed + index).arrays for index in range(count)]


def folder_samples(folder: str | os.PathLike, inputs: tuple[ModelInputInfo, ...], limit: int | None) -> list[dict[str, np.ndarray]]:
    """Every .npy file of `folder` (sorted by name, at most `limit`) as one sample of the model's
    single input; each is checked before any quantization starts, and the first that does not fit
    is named."""
    path = Path(folder)
    try:
        is_folder = stat.S_ISDIR(path.stat().st_mode)
    except OSError:
        is_folder = False
    if not is_folder:
        raise InputDataError(f"calibration folder {path} does not exist or is not a folder", "give a folder of .npy files, one sample each")
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise InputDataError(f"the model has {len(inputs)} inputs ({names}); a calibration folder holds samples of one input",
                             "leave out --calibration to calibrate on seeded random data")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".npy")
    if not files:
        raise InputDataError(f"calibration folder {path} holds no .npy files", "save one sample per file with numpy.save")
    samples = []
    for file in files[:limit] if limit else files:
        array, _ = fit_array(read_npy(file), inputs[0], f"calibration file {file.name}")
        samples.append({inputs[0].name: array})
    return samples
