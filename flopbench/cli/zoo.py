"""`flopbench zoo`: write a reference model."""
from __future__ import annotations

import sys


def add_parser(commands) -> None:
    zoo = commands.add_parser("zoo", help="write a reference model (sep_cnn, std_cnn, mobilenet_v1, conv_mobilenet_v1, mobilenet_v2, vgg16)")
    zoo.add_argument("name", nargs="?", help="model name; omit to list them")
    zoo.add_argument("-o", "--output", default=".", help="folder to write into (default .)")
    zoo.add_argument("--format", default="both", help="ir, onnx, both (default) or tflite")
    zoo.add_argument("--alpha", type=float, help="width multiplier of the MobileNets (default 1.0)")
    zoo.add_argument("--resolution", type=int, help="input height and width of the MobileNets (default 224)")
    zoo.add_argument("--list", action="store_true", help="list the models")
    zoo.set_defaults(handler=run_command)


def run_command(args) -> int:
    from .. import zoo
    from ..render.units import human_bytes

    if args.name is None or args.list:
        for name in zoo.ZOO_NAMES:
            print(zoo.describe(name))
        return 0
    size = zoo.planned_bytes(args.name, args.format, args.alpha, args.resolution)
    # said before the work starts: vgg16 in both formats is over a gigabyte
    print(f"flopbench: writing {zoo.file_stem(args.name, args.alpha, args.resolution)} ({args.format}, about {human_bytes(size)}) "
          f"to {args.output}", file=sys.stderr, flush=True)
    files = zoo.write_zoo_model(args.name, args.output, fmt=args.format, alpha=args.alpha, resolution=args.resolution)
    for path in files.paths:
        print(path)
    return 0
