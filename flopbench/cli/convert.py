"""`flopbench convert`: rewrite standard convolutions as separable ones, or back."""
from __future__ import annotations

import json
import sys

from ..render.units import safe_name


def add_parser(commands) -> None:
    convert = commands.add_parser("convert", help="rewrite k×k convolutions as depthwise + pointwise, or back (new, seeded weights)")
    convert.add_argument("model", metavar="MODEL", help="model file: IR .xml (with its .bin) or .onnx")
    convert.add_argument("--to", required=True, help="separable (k×k → depthwise k×k + pointwise 1×1) or standard (the reverse)")
    convert.add_argument("-o", "--output", required=True, help="the converted model, same format as MODEL (.xml or .onnx)")
    convert.add_argument("--seed", type=int, default=0, help="seed of the new weights (default 0)")
    convert.add_argument("--json", help="write what was rewritten as JSON (schema flopbench/convert/1)")
    convert.set_defaults(handler=run_command)


def _describe(rewrite) -> str:
    kh, kw = rewrite.kernel
    return f"{' + '.join(rewrite.replaced)} → {' + '.join(rewrite.created)} ({rewrite.input_channels}→{rewrite.output_channels}, {kh}x{kw})"


def run_command(args) -> int:
    from ..model.reading import source_files
    from ..converting.convert import check_target, convert
    from .output import check_outputs, write_measured

    check_target(args.to)
    check_outputs({"-o": args.output, "--json": args.json}, protect=source_files(args.model), model="-o")
    result = convert(args.model, args.to, args.output, seed=args.seed)
    if result.folded:
        by_type = ", ".join(f"{op_type} ×{count}" for op_type, count in sorted(result.folded_by_type, key=lambda item: -item[1]))
        nodes = "node that computes weights" if result.folded == 1 else "nodes that compute weights"
        print(f"folded {result.folded} {nodes} from constants ({by_type}) into stored weights first")
    if not result.rewrites:
        what = "k×k standard convolution (k > 1)" if args.to == "separable" else "depthwise convolution followed by a pointwise one"
        print(f"nothing to convert: {args.model} has no {what}; nothing written", file=sys.stderr)
    else:
        one = len(result.rewrites) == 1
        if args.to == "separable":
            what = "convolution to a depthwise + pointwise pair" if one else "convolutions to depthwise + pointwise pairs"
        else:
            what = "depthwise + pointwise pair to a standard convolution" if one else "depthwise + pointwise pairs to standard convolutions"
        print(f"converted {len(result.rewrites)} {what}:")
        for rewrite in result.rewrites:
            print(f"  {safe_name(_describe(rewrite))}")
        for path in result.written:
            print(path)
        print(f"the new layers' weights are seeded random (--seed {result.seed}): the model is for cost and speed, not accuracy",
              file=sys.stderr)
    if args.json:
        write_measured(args.json, json.dumps(result.to_dict(), indent=2) + "\n")
    return 0
