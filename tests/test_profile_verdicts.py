"""What a profile says about its numbers, checked on hand-made rows and samples (no engine runs
here: the truths are the figures written into each case)."""
import pytest

from flopbench.profiling.join import Join
from flopbench.profiling.profile import ABOVE_ROOF, JOIN_FACTOR, LayerRow, findings
from flopbench.profiling.roofline import Peak, Roofline
from flopbench.render.profile import warning_text


def roof(measured: float, theoretical: float | None) -> Roofline:
    return Roofline(engine="openvino", engine_version="x", device="CPU", cpu="hand-made", cores=2,
                    peaks={"f32": Peak("f32", measured, "MatMul 512×512×512", "brgemm", theoretical)},
                    bandwidth_gb_per_s=10.0, bandwidth_bytes=1 << 28, theoretical={}, quick=False,
                    measured_at="2026-12-02T00:00:00Z", seconds=1.0)


def row(gflops_per_s: float) -> LayerRow:
    # 1 GFLOP in 1 / rate seconds: the rate is what the row says
    return LayerRow(name="conv", type="Conv2D", role="", flops=10**9, bytes=10**6, intensity=1000.0,
                    time_us=1e6 / gflops_per_s, percent=50.0, gflops_per_s=gflops_per_s, attainable_gflops_per_s=300.0,
                    percent_of_attainable=100 * gflops_per_s / 300.0, bound="compute", kernel="k", precision="f32")


def above_roof(rate: float, measured: float, theoretical: float | None):
    found = [f for f in findings((row(rate),), Join((), (), ()), roof(measured, theoretical), 1.0, 0.0, None, "f32")
             if f.rule == "above_roof"]
    return found[0] if found else None


def test_a_layer_under_the_measured_peak_is_not_flagged():
    assert above_roof(300.0, measured=300.0, theoretical=200.0) is None
    assert above_roof(300.0 * ABOVE_ROOF * 0.999, measured=300.0, theoretical=None) is None


def test_far_above_every_peak_the_join_is_wrong_and_no_remeasure_is_advised():
    """1030.7 GFLOP/s, 3× the measured peak here (which is above the theoretical one, as on a
    machine whose OS reports the base clock): no roofline measured on a quieter machine explains it."""
    finding = above_roof(1030.7, measured=343.0, theoretical=223.0)
    assert finding.data["cause"] == "join"
    text = warning_text(finding, None)
    assert "remeasure" not in text and "busier" not in text
    assert "join" in text and "1,030.7" in text and "343.0" in text and "223.0" in text


def test_above_the_measured_peak_but_within_the_theoretical_one_the_roof_is_low():
    finding = above_roof(260.0, measured=200.0, theoretical=400.0)
    assert finding.data["cause"] == "roofline"
    assert "flopbench machine --remeasure" in warning_text(finding, None)


def test_between_the_peaks_and_the_join_bound_both_causes_are_named():
    # above both peaks, but by less than a boost clock could explain: a re-measure tells which
    finding = above_roof(JOIN_FACTOR * 300.0 * 0.9, measured=300.0, theoretical=250.0)
    assert finding.data["cause"] == "either"
    text = warning_text(finding, None)
    assert "join" in text and "--remeasure" in text
    # with no theoretical peak known, the measured one is the only bar
    assert above_roof(JOIN_FACTOR * 300.0 * 1.01, measured=300.0, theoretical=None).data["cause"] == "join"
    assert above_roof(ABOVE_ROOF * 300.0 * 1.01, measured=300.0, theoretical=None).data["cause"] == "either"


def test_an_older_files_above_roof_warning_still_reads():
    """Files written before the cause was recorded name the measured peak only."""
    from flopbench.profiling.profile import Finding

    old = Finding("above_roof", {"layer": "conv", "gflops_per_s": 500.0, "peak_gflops_per_s": 300.0, "precision": "f32"})
    text = warning_text(old, None)
    assert "conv" in text and "500.0" in text and "300.0" in text


# ---- what profiling costs: alternating blocks, a sign test over their pairs ----------------------

def blocks(medians_us, size=3):
    """Latencies (ns) of blocks of `size` inferences, each block's values around its median."""
    return [int(m * 1000) + d for m in medians_us for d in (-200, 0, 300)][: len(medians_us) * size]


def test_a_cost_every_block_shows_is_a_cost():
    from flopbench.measure.stats import block_difference

    plain = [70.0, 72.0, 69.0, 75.0, 71.0, 70.0, 90.0, 70.0, 71.0, 70.0]
    profiled = [m + 50.0 for m in plain]
    found = block_difference(blocks(profiled), blocks(plain), 3)
    assert (found.verdict, found.blocks, found.higher, found.lower) == ("higher", 10, 10, 0)
    assert found.difference_ns == 50_000
    assert found.p_value == 2 / 2**10


def test_a_difference_the_blocks_disagree_on_is_within_noise():
    """The light_resnet50 case: one block of the unprofiled run far slower (the machine got busy)
    moves the mean, not the pairs."""
    from flopbench.measure.stats import block_difference

    plain = [700.0, 720.0, 40_000.0, 710.0, 705.0, 690.0, 700.0, 715.0]
    profiled = [705.0, 710.0, 712.0, 702.0, 714.0, 688.0, 703.0, 709.0]
    found = block_difference(blocks(profiled), blocks(plain), 3)
    assert found.verdict == "within_noise" and 0 < found.higher < 8 and 0 < found.lower < 8
    # too few pairs to tell, even when all agree
    assert block_difference(blocks([2.0] * 5), blocks([1.0] * 5), 3).verdict == "too_few_blocks"
    assert block_difference(blocks([1.0] * 6), blocks([2.0] * 6), 3).verdict == "lower"


def test_a_profiler_that_slows_every_inference_down_is_flagged():
    from flopbench.measure.stats import block_difference, summarize
    from flopbench.profiling.profile import OVERHEAD_FACTOR, overhead_findings

    plain, profiled = blocks([70.3] * 10), blocks([685.3] * 10)
    found = overhead_findings(summarize(profiled, percentiles=()), summarize(plain, percentiles=()),
                              block_difference(profiled, plain, 3))
    flagged = [f for f in found if f.rule == "profiling_overhead"]
    assert len(flagged) == 1 and flagged[0].data["factor"] == pytest.approx(685.3 / 70.3)
    text = warning_text(flagged[0], None)
    assert "9.7× slower" in text and "685.3" in text and "70.3" in text
    # a small cost is a cost, not a warning
    assert not [f for f in overhead_findings(summarize(blocks([72.0] * 10), percentiles=()), summarize(plain, percentiles=()),
                                             block_difference(blocks([72.0] * 10), plain, 3)) if f.rule == "profiling_overhead"]
    assert OVERHEAD_FACTOR > 1


def test_the_latency_verdicts_are_bench_s():
    """Each run's end-to-end latency gets the verdicts bench gives the same samples, in bench's words."""
    from flopbench.measure.stats import summarize
    from flopbench.profiling.profile import overhead_findings
    from flopbench.render.warnings import describe

    noisy = [1000_000, 1500_000, 700_000, 1200_000, 600_000, 1400_000, 900_000, 1_000_000, 2_000_000]
    quiet = [1000_000 + i for i in range(9)]
    stats = summarize(noisy, percentiles=())
    assert {w.rule for w in stats.warnings} >= {"noisy", "bimodal"}
    found = [f for f in overhead_findings(stats, summarize(quiet, percentiles=()), None) if f.rule == "latency_noise"]
    assert [(f.data["run"], f.data["verdict"]) for f in found] == [("profiled", w.rule) for w in stats.warnings]
    assert [warning_text(f, None) for f in found] == [f"the profiled inferences' end-to-end latency: {describe(w)}" for w in stats.warnings]


# ---- a real run: the statistics are kept, the words never say a negative cost --------------------

def test_a_profile_measures_its_overhead_in_alternating_blocks(sep_cnn_onnx, roofline_cache, tmp_path):
    import json
    import re
    from dataclasses import replace
    from html import unescape

    from flopbench.cli.main import main
    from flopbench.profiling.profile import ProfileResult, profile
    from flopbench.render.profile import overhead_line, profile_warnings, summary_lines
    from flopbench.results.schema import validate

    result = profile(sep_cnn_onnx, engine="onnxruntime", iterations=20, warmup=2)
    assert result.profiled_latency.count == 20 and result.unprofiled_latency.count == 20
    assert (result.overhead.blocks, result.overhead.block_size) == (10, 2)
    assert result.profiled_latency.median_ns / 1e3 <= max(result.end_to_end_us * 20, 1e9)
    document = result.to_dict()
    validate(document)
    assert ProfileResult.from_dict(json.loads(json.dumps(document))).to_dict() == document
    assert not any("costs -" in line or "costs +-" in line for line in summary_lines(result))
    # a run whose profiled blocks came out faster: no negative cost is ever printed
    faster = replace(result, overhead=replace(result.overhead, verdict="lower", difference_ns=-11_257_400.0, lower=9, higher=1))
    line = overhead_line(faster)
    assert "-11" not in line and "−11" not in line and "11,257.4 µs faster" in line and "nothing measurable" in line
    assert "within noise" in overhead_line(replace(result, overhead=replace(result.overhead, verdict="within_noise")))
    # a file written before the statistics were kept still loads and shows (schema flopbench/profile/1 still)
    older = json.loads(json.dumps(document))
    for key in ("profiled_latency", "unprofiled_latency", "overhead"):
        del older[key]
    for layer in older["layers"]:
        for key in ("median_us", "std_us", "noise", "merged_into"):
            del layer[key]
    validate(older)
    lines = summary_lines(ProfileResult.from_dict(older))
    assert any(line.startswith("Without profiling: ") for line in lines) and not any("costs -" in line for line in lines)

    # one set of warnings: the page lists what the JSON holds, in the terminal's words
    saved = tmp_path / "profile.json"
    saved.write_text(json.dumps(document))
    page = tmp_path / "page.html"
    cost = tmp_path / "cost.json"
    assert main(["flops", str(sep_cnn_onnx), "-o", str(cost)]) == 0
    assert main(["report", str(saved), str(cost), "-o", str(page)]) == 0
    section = page.read_text(encoding="utf-8").split('<section id="warnings">', 1)[1].split("</section>", 1)[0]
    listed = [unescape(item) for item in re.findall(r"<li>(.*?)</li>", section)]
    loaded = ProfileResult.from_dict(json.loads(saved.read_text()))
    assert listed == [f"onnxruntime profile: {text}" for text in profile_warnings(loaded)]
    assert len(listed) >= len(document["warnings"])


# ---- per layer: median, spread and bench's verdicts -----------------------------------------------

def test_a_layer_s_verdicts_are_those_bench_gives_its_samples():
    import numpy as np

    from flopbench.measure.stats import summarize
    from flopbench.profiling.profile import layer_statistics

    steady = np.array([50_000 + 100 * (i % 3) for i in range(20)], dtype=np.int64)
    # 7 × 50.0, 7 × 50.1, 6 × 50.2 µs: the (lower) median, the 10th of 20, is 50.1
    assert layer_statistics(steady, 1.0) == (50.1, pytest.approx(np.std(steady, ddof=1) / 1e3), ())
    noisy = np.array([50_000, 52_000, 48_000, 51_000, 90_000, 49_000, 30_000, 50_000, 75_000, 50_000], dtype=np.int64)
    median, std, noise = layer_statistics(noisy, 1.0)
    assert median == 50.0 and std == pytest.approx(np.std(noisy, ddof=1) / 1e3)
    assert set(noise) == {w.rule for w in summarize(noisy).warnings} & {"noisy", "outliers", "bimodal"} == {"noisy", "bimodal"}
    # a layer a few timer steps long: its steps would look bimodal; no verdict there
    assert layer_statistics(np.array([3000, 2000, 3000, 3000, 2000, 3000, 3000], dtype=np.int64), 1.0)[2] == ()
    # an engine that times no inference apart
    assert layer_statistics(None, 1.0) == (None, None, ())


def test_onnxruntime_times_each_inference_and_the_layers_share_them(sep_cnn_onnx, roofline_cache):
    """Each node's times, inference by inference: their mean is the node's mean, they fit inside each
    call's latency, and the layers' per-inference times add up to the nodes'."""
    import numpy as np

    from flopbench.measure.engines import EngineConfig
    from flopbench.measure.session import open_session
    from flopbench.model.spec import ModelSpec
    from flopbench.profiling.join import join
    from flopbench.profiling.join import layer_samples
    from flopbench.profiling.profile import profile
    from flopbench.render.profile import to_table

    with open_session(ModelSpec(sep_cnn_onnx), "onnxruntime", EngineConfig(profile=True)) as session:
        run = session.runner.profiled_run(session.inputs.arrays, 12, warmup=2, model=session.loaded,
                                          counted={op.name for op in session.cost.ops})
        cost = session.cost
    assert set(run.node_samples_ns) == {node.name for node in run.nodes}
    for node in run.nodes:
        samples = run.node_samples_ns[node.name]
        assert len(samples) == 12 and abs(samples.mean() - node.time_ns) <= 1
    kernels = sum(run.node_samples_ns.values())
    assert (kernels <= run.latencies_ns).all()  # a run's kernels ran inside its call
    joined = join(cost, run.nodes, run.merged_ops)
    per_layer = [found for found in (layer_samples(t, run.node_samples_ns) for t in joined.layers) if found is not None]
    inserted = sum((run.node_samples_ns[n.name] for n in joined.inserted), np.zeros(12))
    assert np.allclose(sum(per_layer) + inserted, kernels, atol=len(per_layer))  # each layer rounded to 1 ns

    result = profile(sep_cnn_onnx, engine="onnxruntime", iterations=12, warmup=2)
    timed = [row for row in result.layers if row.time_us > 0]
    assert timed and all(row.median_us is not None and row.std_us is not None for row in timed)
    assert "Med." in [c.header for c in to_table(result).columns]


def test_openvino_reports_no_single_inference_so_no_median_is_made_up(sep_cnn_xml, roofline_cache):
    from flopbench.profiling.profile import profile
    from flopbench.render.profile import summary_lines, to_table

    result = profile(sep_cnn_xml, iterations=8, warmup=2, precision="f32")
    assert all(row.median_us is None and row.std_us is None and row.noise == () for row in result.layers)
    headers = [c.header for c in to_table(result).columns]
    assert "Med." not in headers and "±" not in headers
    assert any("no median" in line for line in summary_lines(result))
