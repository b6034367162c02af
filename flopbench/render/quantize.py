"""Render what `flopbench quantize` wrote. Rendering never computes."""
from __future__ import annotations

import json

from .units import human_bytes


def quantize_lines(result) -> list[str]:
    share = f"{result.integer_macs / result.macs:.0%}" if result.macs else "no"
    lines = [
        f"wrote {result.xml} (+ .bin): INT8 twin of {result.source} by NNCF post-training quantization, "
        f"{result.fake_quantize_ops} FakeQuantize ops, {share} of the MACs int8 ({result.integer_macs:,} of {result.macs:,})",
        f"weights {human_bytes(result.weight_bytes)} stored, float model {human_bytes(result.source_weight_bytes)}; "
        f"{result.params:,} parameters; quantized in {result.seconds:.1f} s, calibrated on {result.calibration}",
    ]
    if result.random_calibration:
        lines.append("accuracy unknown: calibrated on random data, the INT8 model runs like one but its outputs were never checked; "
                     "calibrate on real samples with --calibration DIR (one .npy per sample) and compare its outputs with the float model's")
    else:
        lines.append("accuracy not checked: compare the INT8 model's outputs with the float model's on held-out data")
    return lines


def quantize_warnings(result) -> list[str]:
    """One line when the twin runs part of the float model's convolution and matmul MACs in float."""
    if not result.macs or result.integer_macs >= result.macs:
        return []
    float_ops = ", ".join(f"{op_type} ×{n}" for op_type, n in sorted(result.float_mac_ops, key=lambda item: -item[1]))
    return [f"only {result.integer_share:.0%} of the float model's convolution and matmul MACs are int8 "
            f"({result.integer_macs:,} of {result.macs:,}); still float: {float_ops or 'unknown'}: the twin runs those at the float precision"]


def quantize_json(result) -> str:
    return json.dumps(result.to_dict(), indent=2) + "\n"
