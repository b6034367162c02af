"""`flopbench zoo`: write a reference model."""
from __future__ import annotations


def add_parser(commands) -> None:
    zoo = commands.add_parser("zoo", help="write a reference model (sep_cnn, std_cnn, mobilenet_v1, vgg16)")
    zoo.add_argument("name", nargs="?", help="model name; omit to list them")
    zoo.add_argument("-o", "--output", default=".", help="folder to write into (default .)")
    zoo.add_argument("--list", action="store_true", help="list the models")
    zoo.set_defaults(handler=run_command)


def run_command(args) -> int:
    from .. import zoo

    if args.name is None or args.list:
        for name in zoo.ZOO_NAMES:
            print(zoo.describe(name))
        return 0
    files = zoo.write_zoo_model(args.name, args.output)
    for path in (files.xml, files.bin, files.onnx, files.image):
        if path is not None:
            print(path)
    return 0
