"""Results load back: every JSON flopbench writes rebuilds the object it came from, carries its
metadata, and merges only with results of the same machine and engine versions."""
import json

import pytest

import flopbench
from flopbench.cli.main import main
from flopbench.errors import ResultFileError
from flopbench.results.schema import validate

QUICK = ["-t", "0.05", "-niter", "5", "--warmup", "1"]


def test_count_round_trip(sep_cnn_xml, tmp_path):
    out = tmp_path / "count.json"
    assert main(["flops", str(sep_cnn_xml), "-o", str(out)]) == 0
    loaded = flopbench.load_result(out)
    assert loaded == flopbench.count(sep_cnn_xml)
    assert loaded.total_flops == 926_808 and loaded.layer("conv2/depthwise").flops == 103_680
    metadata = json.loads(out.read_text())["metadata"]
    for key in ("cpu", "cpu_count", "isa", "hostname", "measured_at", "versions"):
        assert key in metadata, key
    assert metadata["versions"]["flopbench"] == flopbench.__version__


def test_bench_round_trip_with_latencies(sep_cnn_onnx, tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", str(sep_cnn_onnx), "--engine", "openvino,onnxruntime", *QUICK, "--json", str(out), "--save-latencies"]) == 0
    document = json.loads(out.read_text())
    validate(document)
    report = flopbench.load_result(out)
    assert isinstance(report, flopbench.BenchReport)
    assert report.to_dict(save_latencies=True) == document
    assert [r.settings.engine for r in report.results] == ["openvino", "onnxruntime"]
    assert report.results[1].latencies["call"].tolist() == document["results"][1]["latencies_ns"]["call"]
    assert report.results[0].call_latency.median_ns == document["results"][0]["call_latency"]["median_ns"]


def test_run_round_trip(sep_cnn_xml, image_npy, tmp_path):
    out = tmp_path / "run.json"
    assert main(["run", str(sep_cnn_xml), "-i", str(image_npy), "-niter", "3", "--json", str(out)]) == 0
    document = json.loads(out.read_text())
    validate(document)
    result = flopbench.load_result(out)
    assert result == flopbench.RunResult.from_dict(document)
    assert result.iterations == 3 and result.top_class == document["top_class"]
    assert result.to_dict() == document


def test_merge_two_runs_of_one_machine(sep_cnn_xml):
    first = flopbench.bench(sep_cnn_xml, policy=flopbench.measure.policy.RunPolicy(min_duration_s=0.05, min_iterations=5, warmup_iterations=1))
    second = flopbench.bench(sep_cnn_xml, engines=("openvino",), policy=first.results[0].policy)
    merged = first.merge(second)
    assert len(merged.results) == 2
    assert merged.results[0] is first.results[0] and merged.results[1] is second.results[0]
    assert len(merged.metadata["merged_from"]) == 2


def test_merge_refuses_another_machine(sep_cnn_xml, tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", str(sep_cnn_xml), *QUICK, "--json", str(out)]) == 0
    mine = flopbench.load_result(out)
    document = json.loads(out.read_text())
    document["metadata"]["cpu"] = "Some Other CPU @ 1.0GHz"
    other_file = tmp_path / "other.json"
    other_file.write_text(json.dumps(document))
    theirs = flopbench.load_result(other_file)
    with pytest.raises(ResultFileError, match="different machines.*cpu"):
        mine.merge(theirs)
    assert len(mine.merge(theirs, allow_different_machines=True).results) == 2


@pytest.mark.parametrize("content, needle", [
    ("not json", "is not JSON"),
    ('{"schema": "other/1"}', "is not a flopbench result"),
    ('{"schema": "flopbench/nonsense/9"}', "which this flopbench cannot read"),
    ('{"schema": "flopbench/count/1", "model": "m"}', "format is missing; the file was changed or damaged"),
])
def test_bad_result_files(tmp_path, content, needle):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(ResultFileError, match=needle):
        flopbench.load_result(path)


def test_what_is_made_while_the_collector_is_paused_goes_to_the_oldest_generation():
    """collector_paused (loading a document, rendering its page) ends by moving what was made
    meanwhile to the oldest generation: left in the youngest, the next collections walked all of
    it, nearly a second for a count of 100,000 layers."""
    import gc

    from flopbench.results.documents import collector_paused

    with collector_paused():
        made = [[index] for index in range(1000)]
    assert gc.isenabled()
    assert [any(item is made for item in gc.get_objects(generation=generation)) for generation in range(3)] == [False, False, True]


def test_a_report_in_process_keeps_nothing_its_process_ends_with(sep_cnn_xml, tmp_path):
    """`flopbench report count.json` as its own process keeps what it read until os._exit (not
    freed before the process ends); main() called in a process that goes on keeps nothing, and
    load_result keeps only once asked to."""
    from flopbench.results import documents

    out, page = tmp_path / "count.json", tmp_path / "page.html"
    assert main(["flops", str(sep_cnn_xml), "-o", str(out)]) == 0
    assert main(["report", str(out), "-o", str(page)]) == 0
    assert documents._KEPT_UNTIL_EXIT is None
    try:
        documents.keep_until_exit()
        loaded = flopbench.load_result(out)
        assert documents._KEPT_UNTIL_EXIT[-1] is loaded
    finally:
        documents._KEPT_UNTIL_EXIT = None
