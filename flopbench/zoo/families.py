"""The zoo's families, one spec each; a standard twin is the same spec lowered with `standard=True`.

- `cnn`: the course exercise's sep_cnn; its twin std_cnn.
- `mobilenet_v1` (Howard et al. 2017, arXiv 1704.04861, Table 1): every layer followed by
  BatchNorm and ReLU (Figure 3); its twin conv_mobilenet_v1, the paper's "Conv MobileNet" (Table 4).
- `mobilenet_v2` (Sandler et al. 2018, arXiv 1801.04381, Table 2): inverted residuals, ReLU6,
  linear bottlenecks; channels rounded to multiples of 8 under a width multiplier, as its reference
  implementation does.
- `vgg16`: configuration D (Simonyan & Zisserman 2014), no separable layers.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from ..errors import OptionError
from .spec import Conv, Dense, Flatten, GlobalPool, Item, Pool, Residual, Separable, Softmax, Spec

DEFAULT_ALPHA = 1.0
DEFAULT_RESOLUTION = 224


def _cnn() -> Spec:
    items: list[Item] = []
    cin, size = 1, 28
    for i, cout in ((1, 10), (2, 5)):
        # the twins name each layer alike (conv1 is a SeparableConv2D here, a Conv2D in std_cnn), so a
        # comparison by layer pairs them
        items.append(Separable(f"conv{i}", f"conv{i}", cin, cout, 3, bias=True, act="relu"))
        cin, size = cout, size - 2
    # gain 8 on the last layer: untrained He-scaled logits are too close together to give a
    # softmax that visibly prefers a class, and a flat output would hide wiring mistakes.
    items += [Flatten("flatten"), Dense("fc1", cin * size * size, 128, act="relu"), Dense("fc2", 128, 10, gain=8.0),
              Softmax("softmax")]
    return Spec("sep_cnn", (1, 1, 28, 28), tuple(items))


# Table 1 of the MobileNet paper: (pointwise output channels, depthwise stride) of the 13 blocks.
MOBILENET_V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                       (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def _mobilenet_v1(alpha: float, resolution: int) -> Spec:
    def width(channels: int) -> int:
        return max(1, int(channels * alpha))

    cin = width(32)
    items: list[Item] = [Conv("conv1", 3, cin, 3, stride=2, pad=1, norm=True, act="relu")]
    for i, (channels, stride) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        cout = width(channels)
        items.append(Separable(f"block{i}", f"block{i}", cin, cout, 3, stride=stride, pad=1,
                               norm=True, act="relu", dw_norm=True, dw_act="relu"))
        cin = cout
    # pooled globally, as Keras' MobileNet does: at 224 the mean of the 7×7 map, at any other
    # resolution the mean of its own (a fixed 7×7 pool fits inputs of 193 to 224 pixels only)
    items += [GlobalPool("pool"), Flatten("flatten"), Dense("fc", cin, 1000, gain=1.0), Softmax("softmax")]
    return Spec("mobilenet_v1", (1, 3, resolution, resolution), tuple(items))


def _divisible(value: float, divisor: int = 8) -> int:
    """The reference implementation's `_make_divisible`: nearest multiple of 8, never 10% below."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


# Table 2 of the MobileNetV2 paper: (expansion t, output channels c, repeats n, first stride s).
MOBILENET_V2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _mobilenet_v2(alpha: float, resolution: int) -> Spec:
    cin = _divisible(32 * alpha)
    items: list[Item] = [Conv("conv1", 3, cin, 3, stride=2, pad=1, norm=True, act="relu6")]
    index = 0
    for t, c, n, s in MOBILENET_V2_BLOCKS:
        cout = _divisible(c * alpha)
        for repeat in range(n):
            index += 1
            stride = s if repeat == 0 else 1
            hidden = cin * t
            name = f"block{index}"
            block: list[Item] = []
            if t != 1:
                block.append(Conv(f"{name}/expand", cin, hidden, 1, norm=True, act="relu6"))
            # the projection is linear: no activation after it (the paper's "linear bottleneck")
            block.append(Separable(name, name, hidden, cout, 3, stride=stride, pad=1, norm=True, act=None,
                                   dw_norm=True, dw_act="relu6"))
            if stride == 1 and cin == cout:
                items.append(Residual(f"{name}/add", tuple(block)))
            else:
                items += block
            cin = cout
    last = _divisible(1280 * alpha) if alpha > 1.0 else 1280
    items += [Conv("conv_last", cin, last, 1, norm=True, act="relu6"), GlobalPool("pool"),
              Flatten("flatten"), Dense("fc", last, 1000, gain=1.0), Softmax("softmax")]
    return Spec("mobilenet_v2", (1, 3, resolution, resolution), tuple(items))


_VGG16_STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def _vgg16() -> Spec:
    items: list[Item] = []
    cin = 3
    for stage, (cout, repeat) in enumerate(_VGG16_STAGES, start=1):
        for j in range(1, repeat + 1):
            items.append(Conv(f"conv{stage}_{j}", cin, cout, 3, pad=1, bias=True, act="relu"))
            cin = cout
        items.append(Pool(f"pool{stage}", "max", 2, 2))
    items.append(Flatten("flatten"))
    items += [Dense("fc6", cin * 7 * 7, 4096, act="relu"), Dense("fc7", 4096, 4096, act="relu"), Dense("fc8", 4096, 1000, gain=1.0),
              Softmax("softmax")]
    return Spec("vgg16", (1, 3, 224, 224), tuple(items), weight_pool=1 << 20)


@dataclass(frozen=True)
class ZooModel:
    """One name the zoo answers to: a family, and whether it is the family's standard twin."""

    name: str
    family: Callable[..., Spec]
    standard: bool
    scalable: bool  # takes --alpha and --resolution
    description: str


_MODELS = (
    ZooModel("sep_cnn", _cnn, False, False,
             "course exercise CNN: 2 separable 3x3 convs (10, 5 kernels) + FC 128 + FC 10, input 1x1x28x28"),
    ZooModel("std_cnn", _cnn, True, False,
             "sep_cnn's standard twin: standard 3x3 convs (10, 5 kernels) + FC 128 + FC 10, input 1x1x28x28"),
    ZooModel("mobilenet_v1", _mobilenet_v1, False, True,
             "MobileNetV1 (Howard et al. 2017) with BatchNorm + ReLU, 569M MACs, 4.2M params at 1.0/224; --alpha, --resolution"),
    ZooModel("conv_mobilenet_v1", _mobilenet_v1, True, True,
             "MobileNetV1's standard twin, every separable block a full 3x3 conv (the paper's Conv MobileNet, 4866M MACs); --alpha, --resolution"),
    ZooModel("mobilenet_v2", _mobilenet_v2, False, True,
             "MobileNetV2 (Sandler et al. 2018): inverted residuals, linear bottlenecks, ReLU6, ~300M MACs at 1.0/224; --alpha, --resolution"),
    ZooModel("vgg16", _vgg16, False, False,
             "VGG16 configuration D, ~15.5G MACs, ~138M params (~553 MB FP32 per format), input 1x3x224x224"),
)
ZOO_MODELS: dict[str, ZooModel] = {m.name: m for m in _MODELS}
ZOO_NAMES: tuple[str, ...] = tuple(ZOO_MODELS)


def check_name(name: str) -> ZooModel:
    if name not in ZOO_MODELS:
        raise OptionError(f"unknown zoo model {name!r}", f"choose one of: {', '.join(ZOO_NAMES)}")
    return ZOO_MODELS[name]


def check_options(name: str, alpha: float | None, resolution: int | None) -> tuple[float, int]:
    """The width multiplier and resolution to build `name` with; refuses what the model cannot take."""
    model = check_name(name)
    if not model.scalable:
        given = [flag for flag, value in (("--alpha", alpha), ("--resolution", resolution)) if value is not None]
        if given:
            scalable = ", ".join(m.name for m in _MODELS if m.scalable)
            raise OptionError(f"zoo model {name} takes no {' or '.join(given)}", f"drop it, or choose one of: {scalable}")
        return DEFAULT_ALPHA, DEFAULT_RESOLUTION
    alpha = DEFAULT_ALPHA if alpha is None else alpha
    resolution = DEFAULT_RESOLUTION if resolution is None else resolution
    if not (0 < alpha <= 4):
        raise OptionError(f"--alpha {alpha:g} is out of range", "give a width multiplier above 0 and at most 4, e.g. 0.25, 0.5, 0.75, 1.0")
    if isinstance(resolution, bool) or int(resolution) != resolution or not (32 <= resolution <= 2048):
        raise OptionError(f"--resolution {resolution} is out of range", "give a whole number of pixels from 32 to 2048, e.g. 224, 192, 160, 128")
    return float(alpha), int(resolution)


def zoo_spec(name: str, alpha: float | None = None, resolution: int | None = None) -> tuple[Spec, bool, str]:
    """The spec `name` is built from, whether to lower it as the standard twin, and the stem its
    files are named with (`mobilenet_v1_0.5_160` when the options differ from the defaults)."""
    model = check_name(name)
    alpha, resolution = check_options(name, alpha, resolution)
    spec = model.family(alpha, resolution) if model.scalable else model.family()
    stem = name
    if model.scalable and (alpha, resolution) != (DEFAULT_ALPHA, DEFAULT_RESOLUTION):
        stem = f"{name}_{alpha:g}_{resolution}"
    # the model's own name seeds its weights, so std_cnn's differ from sep_cnn's
    return replace(spec, name=name), model.standard, stem


def describe(name: str) -> str:
    """One line saying what the zoo model is."""
    return f"{name}: {check_name(name).description}"
