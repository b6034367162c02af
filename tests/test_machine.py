"""`flopbench machine`: the roofline measured with the engine's own node times, cached per machine
and engine version. The quick plan keeps these tests small; the full one is in docs/machine.md."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flopbench.profiling.roofline import Roofline, cache_dir, cache_path, cached_roofline, measure_roofline, roofline, theoretical_peaks
from flopbench.errors import ResultFileError
from flopbench.results.metadata import cpu_flags
from flopbench.results.schema import validate


def test_quick_openvino_roofline_offers_what_the_cpu_has(roofline_cache):
    measured = roofline_cache["openvino"]
    flags = cpu_flags()
    expected = ["f32"] + (["bf16"] if flags & {"avx512_bf16", "amx_bf16"} else []) + \
               (["i8"] if flags & {"avx512_vnni", "avx_vnni", "amx_int8"} else [])
    assert list(measured.peaks) == expected
    for precision, peak in measured.peaks.items():
        assert peak.gflops_per_s > 0 and peak.op.startswith(("MatMul", "1×1 Conv", "3×3 Conv"))
        assert peak.kernel  # the engine's kernel name, e.g. brgemm_avx512_bf16
    if "bf16" in measured.peaks:
        assert "bf16" in measured.peaks["bf16"].kernel.lower()
    if "i8" in measured.peaks:
        assert "i8" in measured.peaks["i8"].kernel.lower()  # the MatMul really ran in int8
    assert measured.bandwidth_gb_per_s > 0
    assert measured.bandwidth_bytes == max(measured.levels[-1].measured_on)  # DRAM's working set
    validate(measured.to_dict())
    assert Roofline.from_dict(json.loads(json.dumps(measured.to_dict()))) == measured


@pytest.mark.parametrize("engine", ["openvino", "onnxruntime"])
def test_a_plateau_per_cache_level_the_os_names(roofline_cache, engine):
    """One level per data cache in /sys plus DRAM; each holds the working sets from the size of the
    level before it to its own size; DRAM is measured on a working set beyond 4× the last cache
    (never a cache plateau); a nearer level is at least as fast as DRAM on the roof (measured slower,
    as a loaded machine's quick sweep can, it is named disturbed and taken at DRAM's bandwidth)."""
    measured = roofline_cache[engine]
    caches = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        if (index / "type").read_text().strip() in ("Data", "Unified"):
            caches.append((int((index / "level").read_text()), (index / "size").read_text().strip()))
    assert [level.name for level in measured.levels] == [f"L{level}" for level, _ in caches] + ["DRAM"]
    for level, (number, size) in zip(measured.levels, caches):
        per_instance = int(size[:-1]) * {"K": 1024, "M": 1 << 20}[size[-1]]
        assert level.holds_to_bytes % per_instance == 0 and level.holds_to_bytes >= per_instance
        swept = [point for point in measured.sweep if level.holds(point.working_set_bytes)]
        assert swept  # the sweep reached every level
        if level.bandwidth_gb_per_s is None:
            # every size it holds ran no slower than an empty node (seen in CI's quick sweep of L1, loaded):
            # unresolved, no plateau, and the roof takes it at the next measured level's bandwidth
            assert not level.measured_on and any(point.bandwidth_gb_per_s is None for point in swept)
            assert measured.level_bandwidth(level) >= measured.levels[-1].bandwidth_gb_per_s
        else:
            assert level.measured_on and all(level.holds(ws) for ws in level.measured_on)
    for lower, upper in zip(measured.levels, measured.levels[1:]):
        assert upper.holds_from_bytes == lower.holds_to_bytes  # contiguous ranges
    dram, last_cache = measured.levels[-1], measured.levels[-2]
    assert dram.holds_to_bytes is None and min(dram.measured_on) > 4 * last_cache.holds_to_bytes
    assert measured.bandwidth_gb_per_s == dram.bandwidth_gb_per_s
    assert dram.bandwidth_gb_per_s is not None and dram.measured_on
    first = measured.levels[0]
    if first.bandwidth_gb_per_s is not None and first.bandwidth_gb_per_s < dram.bandwidth_gb_per_s:  # the quick sweep of a loaded machine (seen at load 4.6)
        assert first.name in measured.disturbed_levels()
    assert measured.level_bandwidth(first) >= dram.bandwidth_gb_per_s  # the roof never puts a cache below DRAM
    assert measured.level_for(1) is measured.levels[0]
    assert measured.level_for(10 * last_cache.holds_to_bytes) is dram
    assert measured.node_overhead_ns > 0 and measured.call_overhead_ns >= 0
    # every point of the sweep is a working set one Sub node of the chain touches: two inputs, one output
    assert all(point.working_set_bytes % 12 == 0 for point in measured.sweep)


def test_a_roofline_of_the_earlier_cache_generation_is_measured_again(roofline_cache):
    """A document without levels (written before they existed, e.g. inside an old profile) still
    loads, as DRAM alone; as a cache file it is not taken: the roofline is measured again."""
    document = roofline_cache["onnxruntime"].to_dict()
    for key in ("levels", "sweep", "node_overhead_ns", "call_overhead_ns"):
        document.pop(key)
    old = Roofline.from_dict(document)
    assert [level.name for level in old.memory_levels()] == ["DRAM"]
    assert old.level_bandwidth(old.level_for(1)) == old.bandwidth_gb_per_s
    assert "machine2-" in cache_path("onnxruntime", quick=True).name
    path = cache_path("onnxruntime", quick=True)
    kept = path.read_text()
    try:
        path.write_text(json.dumps(document))
        assert cached_roofline("onnxruntime", quick=True) is None
    finally:
        path.write_text(kept)


def test_onnxruntime_roofline_is_f32(roofline_cache):
    measured = roofline_cache["onnxruntime"]
    assert list(measured.peaks) == ["f32"] and measured.engine == "onnxruntime"


def test_theoretical_peak_is_the_formula():
    peaks, basis = theoretical_peaks({"avx512f", "avx512_bf16", "avx512_vnni"}, cores=2, ghz=2.5)
    assert peaks == {"f32": 2 * 16 * 2 * 2 * 2.5, "bf16": 2 * 2 * 16 * 2 * 2 * 2.5, "i8": 4 * 2 * 16 * 2 * 2 * 2.5}
    assert theoretical_peaks({"avx2", "fma"}, cores=4, ghz=3.0)[0] == {"f32": 4 * 8 * 2 * 2 * 3.0}
    assert theoretical_peaks(set(), cores=4, ghz=None)[0] == {}


def test_the_cache_is_read_back_and_remeasured_on_demand(roofline_cache):
    path = cache_path("onnxruntime", quick=True)
    assert path.parent == cache_dir() and path.exists()
    assert roofline("onnxruntime", quick=True) == roofline_cache["onnxruntime"]  # from the cache: same measurement
    path.write_text("{ broken")  # a broken cache is named, with the command that measures it again
    with pytest.raises(ResultFileError, match=r"machine --engine onnxruntime --quick --remeasure"):
        roofline("onnxruntime", quick=True)
    # one measurement (a quick roofline is most of this test's time): remeasure never reads the
    # cache, broken here, measures anew and writes it, atomically
    again = roofline("onnxruntime", quick=True, remeasure=True)
    assert again.peaks["f32"].gflops_per_s > 0 and again.measured_at >= roofline_cache["onnxruntime"].measured_at
    assert Roofline.from_dict(json.loads(path.read_text())) == again == roofline("onnxruntime", quick=True)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # atomic writes leave no temp file


def test_cli_machine_json(tmp_path, roofline_cache):
    target = tmp_path / "machine.json"
    done = subprocess.run([sys.executable, "-m", "flopbench", "machine", "--quick", "-o", str(target)],
                          capture_output=True, text=True, timeout=300, env={**os.environ})
    assert done.returncode == 0, done.stderr
    document = json.loads(target.read_text())
    validate(document)
    assert document == roofline_cache["openvino"].to_dict()  # the cached measurement
    import flopbench

    assert flopbench.load_result(target) == roofline_cache["openvino"]
    table = subprocess.run([sys.executable, "-m", "flopbench", "machine", "--quick"], capture_output=True, text=True, timeout=300)
    assert "Theoretical" in table.stdout and "memory bandwidth" in table.stdout


def test_an_unknown_engine_is_refused():
    from flopbench.errors import EngineError

    with pytest.raises(EngineError):
        measure_roofline("tensorflow", quick=True)


def test_machine_says_its_figures_came_from_the_cache_and_when(roofline_cache):
    # issue 22, item 13: a cached roofline was shown as if just measured
    from flopbench.profiling.roofline import cache_path

    cached = roofline_cache["openvino"]
    table = subprocess.run([sys.executable, "-m", "flopbench", "machine", "--quick"], capture_output=True, text=True, timeout=300)
    assert table.returncode == 0, table.stderr
    said = " ".join(table.stdout.split())  # as one line, however the terminal wrapped it
    assert f"from the cache ({cache_path('openvino', quick=True)})" in said
    assert f"measured {cached.measured_at}" in said and "--remeasure" in said


def test_a_cache_level_measured_slower_than_the_levels_beyond_it_is_taken_at_theirs(roofline_cache):
    """A cache is never slower than the memory behind it: a plateau measured below an outer level's
    (its sizes' times mostly a node's fixed cost, or disturbed) is not taken. Layers it holds are placed on the outer
    level's bandwidth, and `machine` says which level and at what bandwidth its layers are placed."""
    from dataclasses import replace

    from flopbench.render.machine import machine_lines

    measured = roofline_cache["onnxruntime"]
    levels = measured.memory_levels()
    assert levels[-1].bandwidth_gb_per_s, "the quick roofline measured DRAM"
    slow = levels[-1].bandwidth_gb_per_s / 16
    disturbed = replace(measured, levels=(replace(levels[0], bandwidth_gb_per_s=slow), *levels[1:]))
    inner = disturbed.memory_levels()[0]
    outer_best = max(level.bandwidth_gb_per_s for level in levels[1:] if level.bandwidth_gb_per_s)
    assert disturbed.level_bandwidth(inner) == outer_best
    assert inner.name in disturbed.disturbed_levels()
    said = "\n".join(machine_lines(disturbed))
    assert f"{inner.name} measured {slow:,.1f} GB/s, below a level beyond it" in said and f"placed at {outer_best:,.1f} GB/s" in said
    assert levels[-1].name not in disturbed.disturbed_levels()  # nothing is beyond DRAM
