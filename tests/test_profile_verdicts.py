"""What a profile says about its numbers, checked on hand-made rows and samples (no engine runs
here: the truths are the figures written into each case)."""
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
