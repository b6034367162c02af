"""`flopbench flops`: count MACs, FLOPs, parameters and bytes, by layer or by op."""
from __future__ import annotations

from .arguments import add_model
from .output import check_output, emit, format_for


def add_parser(commands) -> None:
    flops = commands.add_parser("flops", help="count MACs, FLOPs, parameters and bytes, by layer or by op")
    add_model(flops)
    flops.add_argument("-b", "--batch", type=int, help="batch size (default: the model's, or 1 if dynamic)")
    flops.add_argument("--by", default="layer", help="layer (default) or op")
    flops.add_argument("--format", help="table, json, csv or markdown (default: from the -o file's extension, else table)")
    flops.add_argument("--include-other", action="store_true", help="add bias, activation, pooling and normalization FLOPs to the total")
    flops.add_argument("-o", "--output", help="write to this file (atomically) instead of the terminal")
    flops.set_defaults(handler=run_command)


def run_command(args) -> int:
    from ..counting import count
    from ..model import source_files
    from ..render.cost import check_view, render_cost
    from ..render.text import check_format

    fmt = check_format(format_for(args.output, args.format))
    check_view(args.by)
    check_output(args.output, protect=source_files(args.model))
    cost = count(args.model, shape=args.shape, include_other=args.include_other, batch=args.batch)
    emit(render_cost(cost, fmt, args.by), args.output)
    return 0
