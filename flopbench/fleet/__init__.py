"""The same measurements on many machines: a Ray cluster's nodes, one measurement per node at a time,
each point written as it ends. Ray is needed only when a fleet runs (`pip install "flopbench[fleet]"`)."""
from .cluster import MEASURE_SLOT, connected, require_ray
from .points import BenchPoints, point_key, read_points_file
from .records import FLEET_SCHEMA, FleetLog, FleetResult
from .scheduler import SweepProgress, run_points

__all__ = ["MEASURE_SLOT", "connected", "require_ray", "BenchPoints", "point_key", "read_points_file", "FLEET_SCHEMA",
           "FleetLog", "FleetResult", "SweepProgress", "run_points", "fleet_bench", "fleet_profile", "fleet_sweep"]


def __getattr__(name: str):
    # measuring modules load only when a fleet runs
    if name == "fleet_bench":
        from .bench import fleet_bench

        return fleet_bench
    if name == "fleet_profile":
        from .profile import fleet_profile

        return fleet_profile
    if name == "fleet_sweep":
        from .sweep import fleet_sweep

        return fleet_sweep
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
