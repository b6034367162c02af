"""`flopbench flops`: count MACs, FLOPs, parameters and bytes, by layer or by op."""
from __future__ import annotations

from .arguments import add_model, add_table_flags
from .output import check_output, emit, format_for


def add_parser(commands) -> None:
    flops = commands.add_parser("flops", help="count MACs, FLOPs, parameters and bytes, by layer or by op")
    add_model(flops)
    flops.add_argument("-b", "--batch", type=int, help="batch size (default: the model's, or 1 if dynamic)")
    flops.add_argument("--by", default="layer", help="layer (default) or op")
    flops.add_argument("--format", help="table, json, csv or markdown (default: from the -o file's extension, else table)")
    flops.add_argument("--include-other", action="store_true", help="add bias, activation, pooling and normalization FLOPs to the total")
    flops.add_argument("--memory", action="store_true", help="show each layer's weight bytes (stored) and output bytes in the table")
    flops.add_argument("--memory-budget", metavar="SIZE", help="say whether weights + peak activations fit SIZE (64MB, 512KiB, 2GB), and by how much not")
    # a count must not load the engines: the flag's default engine is resolved when it is given
    flops.add_argument("--measure-memory", nargs="?", const=True, metavar="ENGINES",
                       help="also measure the memory the engine's process grows by when it compiles and runs the model, "
                            "in a fresh process per engine (the names --engine takes, comma-separated; default: bench's default engine)")
    add_table_flags(flops)
    flops.add_argument("-o", "--output", help="write to this file (atomically) instead of the terminal")
    flops.set_defaults(handler=run_command)


def run_command(args) -> int:
    from ..counting import count
    from ..counting.memory import fit, parse_size
    from ..model import source_files
    from ..render.cost import check_view
    from ..render.registry import check_format, render

    fmt = check_format("count", format_for(args.output, args.format))
    check_view(args.by)
    budget_bytes = parse_size(args.memory_budget) if args.memory_budget is not None else None
    engines: list[str] = []
    if args.measure_memory is not None:
        from ..measure.engines import DEFAULT_ENGINE, get_engine

        asked = DEFAULT_ENGINE if args.measure_memory is True else args.measure_memory
        engines = [name.strip() for name in asked.split(",") if name.strip()]
        for name in engines or [asked]:
            get_engine(name)  # an unknown engine fails before the count
    check_output(args.output, protect=source_files(args.model))
    cost = count(args.model, shape=args.shape, include_other=args.include_other, batch=args.batch)
    budget = fit(cost.materialized_weight_bytes, cost.peak_activation_bytes, budget_bytes) if budget_bytes is not None else None
    measured = ()
    if args.measure_memory:
        from ..measure.footprint import explain, measure_footprint

        footprints = [measure_footprint(args.model, engine, shape=args.shape, batch=args.batch) for engine in engines]
        # each measurement with what accounts for it (render shows, never computes)
        measured = tuple((footprint, explain(cost, footprint) if footprint.engine_fixed_bytes else None) for footprint in footprints)
    emit(render("count", fmt, cost, view=args.by, memory=args.memory, budget=budget, measured=measured), args.output,
         args.columns, args.wide)
    return 0
