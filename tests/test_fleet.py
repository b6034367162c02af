"""Fleets on a real Ray cluster of two nodes on this machine (a head and one added node, one
measurement slot each): `flopbench fleet bench` and `fleet sweep` run as real commands against it
with --address. The truths come from outside flopbench's fleet code: the node ids from the cluster
object that started the nodes, the points from the points file, the FLOPs from the exercise.

The cluster is shared by the module; the last test removes the second node, so it stays last.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import ray
from ray.cluster_utils import Cluster

import flopbench
from flopbench.cli.main import main
from flopbench.errors import FleetError
from flopbench.fleet import MEASURE_SLOT, FleetResult
from flopbench.fleet.points import BenchPoints
from flopbench.fleet.shipping import ModelPackage, pack_model, private_root, unpack_model
from flopbench.results.schema import validate


REPO = Path(__file__).resolve().parents[1]
SEP_CNN_FLOPS = 926_808  # the exercise's total: 25,688 + 161,280 + 737,280 + 2,560


@pytest.fixture(scope="module")
def cluster(roofline_cache):
    """Two Ray nodes on this machine, each with one measurement slot and one CPU; started after the
    session's roofline cache is set, so the nodes' workers find it (FLOPBENCH_CACHE_DIR)."""
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {MEASURE_SLOT: 1}, "include_dashboard": False})
    second = nodes.add_node(num_cpus=1, resources={MEASURE_SLOT: 1})
    nodes.wait_for_nodes()
    nodes.second = second
    yield nodes
    nodes.shutdown()


def _flopbench(*argv, timeout=240, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flopbench", *map(str, argv)], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout, **kwargs)


def _points_file(folder: Path, zoo_dir: Path, seconds: float = 0.2) -> tuple[Path, list[dict]]:
    """8 points: two models × (OpenVINO at batch 1 and 2, ONNX Runtime on 1 and 2 threads; the zoo's
    ONNX files have a fixed batch of 1, which ONNX Runtime keeps)."""
    common = {"seconds": seconds, "niter": 5, "warmup": 1}
    points = [{"model": f"{model}.onnx", **setting, **common} for model in ("sep_cnn", "std_cnn")
              for setting in ({"engines": ["openvino"], "batch": 1}, {"engines": ["openvino"], "batch": 2},
                              {"engines": ["onnxruntime"], "nthreads": 1}, {"engines": ["onnxruntime"], "nthreads": 2})]
    for model in ("sep_cnn", "std_cnn"):
        target = folder / f"{model}.onnx"
        if not target.exists():
            target.write_bytes((zoo_dir / f"{model}.onnx").read_bytes())
    path = folder / "points.json"
    path.write_text(json.dumps(points))
    return path, points


def _assert_each_point_once(document: dict, points: list[dict]) -> None:
    recorded = [record["point"] for record in document["points"]]
    for point in points:
        assert recorded.count(point) == 1, point
    assert len(recorded) == len(points)


def _assert_no_overlap(document: dict) -> None:
    """From the recorded start and end times: one measurement at a time on each node."""
    by_node: dict[str, list[tuple[float, float]]] = {}
    for record in document["points"]:
        if record["status"] == "done":
            by_node.setdefault(record["node_id"], []).append((record["started_at"], record["finished_at"]))
    for spans in by_node.values():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end, spans


@pytest.fixture(scope="module")
def fleet_bench_file(cluster, sep_cnn_onnx, tmp_path_factory):
    """`flopbench fleet bench` of sep_cnn on both nodes and both engines: the gathered file and the command's output."""
    out = tmp_path_factory.mktemp("fleet-bench") / "fleet.json"
    done = _flopbench("fleet", "bench", sep_cnn_onnx, "--address", cluster.address, "-t", "0.2", "-niter", "5",
                      "--engine", "openvino,onnxruntime", "--json", out)
    assert done.returncode == 0, done.stderr
    return out, done


def test_fleet_bench_gathers_one_result_per_node(cluster, fleet_bench_file, roofline_cache):
    out, done = fleet_bench_file
    document = json.loads(out.read_text())
    validate(document)
    assert document["complete"] and document["command"] == "bench"
    expected = {cluster.head_node.node_id, cluster.second.node_id}
    assert {r["node_id"] for r in document["points"]} == expected and len(document["points"]) == 2
    for record in document["points"]:
        assert record["status"] == "done" and record["error"] is None
        result = record["result"]
        validate(result)
        assert result["metadata"]["node_id"] == record["node_id"]
        assert result["metadata"]["cpu"] and result["metadata"]["versions"]["openvino"]
        assert document["nodes"][record["node_id"]]["machine"]["cpu_count"] == os.cpu_count()
        assert [r["engine"]["engine"] for r in result["results"]] == ["openvino", "onnxruntime"]
        assert all(r["flops_per_inference"] == SEP_CNN_FLOPS and r["iterations"] >= 5 for r in result["results"])
        # the node's roofline per engine: the one cached for this machine, reused, not measured again
        for engine, entry in result["metadata"]["rooflines"].items():
            assert entry["source"] == "cached" and entry["machine"] == roofline_cache[engine].to_dict()
    # the table has a column per node, named by its id
    assert all(node_id[:8] in done.stdout for node_id in expected)
    loaded = flopbench.load_result(out)
    assert isinstance(loaded, FleetResult) and len(loaded.bench_reports()) == 2
    assert len(loaded.series()) == 2  # both nodes are this machine: one series


def test_the_fleet_file_loads_back(fleet_bench_file, tmp_path):
    """The fleet's results file (written point by point) reads back to what it says, and saved again to the same object."""
    out, _ = fleet_bench_file
    document = json.loads(out.read_text())
    loaded = flopbench.load_result(out)
    assert json.dumps(loaded.to_dict()) == json.dumps(document)
    assert [report.results[0].flops_per_inference for _, report in loaded.bench_reports()] == [SEP_CNN_FLOPS] * 2
    # each a report of one node, by name (issue 22, item 13): .report, its .record and the .node_id it ran on
    for node in loaded.bench_reports():
        assert node.report.results[0].flops_per_inference == SEP_CNN_FLOPS
        assert node.node_id == node.record.node_id == node.report.metadata["node_id"]
    flopbench.save_result(loaded, tmp_path / "saved.json")
    assert flopbench.load_result(tmp_path / "saved.json") == loaded


@pytest.fixture(scope="module")
def fleet_profile_file(cluster, sep_cnn_onnx, tmp_path_factory):
    """`flopbench fleet profile` of sep_cnn on both nodes (OpenVINO, f32): the gathered file and the command's output."""
    out = tmp_path_factory.mktemp("fleet-profile") / "profile.json"
    done = _flopbench("fleet", "profile", sep_cnn_onnx, "--address", cluster.address, "-niter", "10", "--warmup", "2",
                      "--precision", "f32", "--json", out)
    assert done.returncode == 0, done.stderr
    return out, done


def test_fleet_profile_gives_each_node_its_layers_on_its_own_roofline(cluster, fleet_profile_file, sep_cnn_onnx, roofline_cache):
    out, done = fleet_profile_file
    document = json.loads(out.read_text())
    validate(document)
    assert document["complete"] and document["command"] == "profile"
    expected = {cluster.head_node.node_id, cluster.second.node_id}
    assert {r["node_id"] for r in document["points"]} == expected and len(document["points"]) == 2
    layers = flopbench.count(sep_cnn_onnx).layers  # `flopbench flops`' layers, counted here on the driver
    for record in document["points"]:
        assert record["status"] == "done", record["error"]
        result = record["result"]
        validate(result)
        assert result["metadata"]["node_id"] == record["node_id"] and result["metadata"]["cpu_count"] == os.cpu_count()
        assert [row["name"] for row in result["layers"]] == [layer.name for layer in layers]
        assert [row["flops"] for row in result["layers"]] == [layer.flops + layer.other_flops for layer in layers]
        assert all(row["time_us"] > 0 for row in result["layers"] if row["name"] in ("conv1", "conv2", "fc1"))
        # the node's roofline: the cache this machine has, reused (a node without one measures the quick one)
        assert result["metadata"]["roofline_source"] == "cached"
        assert result["roofline"] == roofline_cache["openvino"].to_dict()
    assert all(node_id[:8] in done.stdout for node_id in expected)
    assert all(f" {layer.name} " in done.stdout for layer in layers)
    for record in document["points"]:  # each node's latencies as profile shows them: median ± std, from its record
        for run in ("profiled_latency", "unprofiled_latency"):
            stats = record["result"][run]
            assert f"{stats['median_ns'] / 1e3:,.1f} ± {stats['std_ns'] / 1e3:,.1f}" in done.stdout
    assert "(profiled, median ± std)" in done.stdout and "(unprofiled, median ± std)" in done.stdout
    loaded = flopbench.load_result(out)
    assert isinstance(loaded, FleetResult) and len(loaded.profile_results()) == 2


def test_a_node_without_a_cached_roofline_measures_the_quick_one(tmp_path, monkeypatch):
    from flopbench.fleet.roofline import CACHED, MEASURED_QUICK, node_roofline

    monkeypatch.setenv("FLOPBENCH_CACHE_DIR", str(tmp_path))
    measured, source = node_roofline("onnxruntime")
    assert source == MEASURED_QUICK and measured.quick and measured.peaks["f32"].gflops_per_s > 0
    again, source = node_roofline("onnxruntime")
    assert source == CACHED and again == measured  # cached on the node: the next point reuses it


def _node_of(label: str) -> str:
    return label.rsplit(" ", 1)[-1]  # "HOST 1a2b3c4d": the node id's first 8 characters


def test_compare_puts_the_nodes_of_a_fleet_bench_side_by_side(fleet_bench_file, tmp_path, capsys):
    out, _ = fleet_bench_file
    by_node = {r["node_id"][:8]: r["result"] for r in json.loads(out.read_text())["points"]}
    target = tmp_path / "machines.json"
    assert main(["compare", str(out), "-o", str(target)]) == 0
    comparison = json.loads(target.read_text())
    validate(comparison)
    columns = [_node_of(label) for label in comparison["models"]]
    assert sorted(columns) == sorted(by_node)  # a column per node, nothing merged
    for engine in ("openvino", "onnxruntime"):
        rows = {r["metric"]: r["values"] for r in comparison["rows"] if r["engine"] == engine}
        measured = [next(m for m in by_node[node]["results"] if m["engine"]["engine"] == engine) for node in columns]
        assert rows["latency_median_ns"] == [(m["engine_latency"] or m["call_latency"])["median_ns"] for m in measured]
        assert rows["throughput_fps"] == [m["throughput_fps"] for m in measured]
        assert rows["precision"] == [m["engine"]["precision"] for m in measured]
        roofs = [by_node[node]["metadata"]["rooflines"][engine]["machine"] for node in columns]
        assert rows["bandwidth_gb_per_s"] == [roof["bandwidth_gb_per_s"] for roof in roofs]
    assert main(["compare", str(out)]) == 0
    shown = capsys.readouterr().out
    assert all(node in shown for node in by_node) and "precision" in shown


def test_compare_and_report_show_a_fleet_profile_machine_by_machine(fleet_profile_file, sep_cnn_onnx, browser, tmp_path, capsys):
    out, _ = fleet_profile_file
    by_node = {r["node_id"][:8]: r["result"] for r in json.loads(out.read_text())["points"]}
    target = tmp_path / "machines.json"
    assert main(["compare", str(out), "-o", str(target)]) == 0
    comparison = json.loads(target.read_text())
    validate(comparison)
    columns = [_node_of(label) for label in comparison["models"]]
    assert sorted(columns) == sorted(by_node)
    layers = flopbench.count(sep_cnn_onnx).layers
    assert [m["name"] for m in comparison["layers"]] == [layer.name for layer in layers]
    for match in comparison["layers"]:  # each column's time is its node's own profile's
        assert match["time_us"] == [next(r["time_us"] for r in by_node[node]["layers"] if r["name"] == match["name"]) for node in columns]
    # the end-to-end latencies as bench and profile show them: each node's median and standard
    # deviation, from the latencies its own profile kept (no mean row: every file holds medians)
    rows = {r["metric"]: r["values"] for r in comparison["rows"] if r["engine"] == "openvino"}
    for run, prefix in (("unprofiled_latency", ""), ("profiled_latency", "profiled_")):
        assert rows[f"{prefix}latency_median_ns"] == [by_node[node][run]["median_ns"] for node in columns]
        assert rows[f"{prefix}latency_std_ns"] == [by_node[node][run]["std_ns"] for node in columns]
    assert not {"latency_mean_ns", "profiled_latency_mean_ns"} & set(rows)
    assert main(["compare", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "Layers side by side" in shown and all(f" {layer.name} " in shown for layer in layers)
    assert "latency median (unprofiled)" in shown and "latency std (profiled)" in shown and "latency mean" not in shown
    # a file written before profiles kept their latencies' statistics: its means, called means
    older = json.loads(out.read_text())
    for record in older["points"]:
        del record["result"]["profiled_latency"], record["result"]["unprofiled_latency"], record["result"]["overhead"]
    (tmp_path / "older.json").write_text(json.dumps(older))
    from flopbench.fleet.compare import side_by_side

    rows = {r.metric: r.values for r in side_by_side(flopbench.load_result(tmp_path / "older.json")).rows if r.engine == "openvino"}
    assert rows["latency_mean_ns"] == tuple(by_node[node]["unprofiled_end_to_end_us"] * 1e3 for node in columns)
    assert rows["profiled_latency_mean_ns"] == tuple(by_node[node]["end_to_end_us"] * 1e3 for node in columns)
    assert "latency_median_ns" not in rows
    from rich.console import Console

    from flopbench.render.fleet import fleet_profile_table

    shown = Console(width=200, record=True, file=io.StringIO())
    shown.print(fleet_profile_table(flopbench.load_result(tmp_path / "older.json")))
    text = shown.export_text()
    assert "(unprofiled, mean)" in text and "median ± std" not in text
    assert all(f"{by_node[node]['unprofiled_end_to_end_us']:,.1f}" in text for node in columns)

    page = tmp_path / "machines.html"
    assert main(["report", str(out), "-o", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"https?://", text)
    assert all(node in text for node in by_node)
    browser.open(page)
    assert browser.errors() == []
    assert browser.requests() == [page.resolve().as_uri()]  # nothing fetched: the page is whole
    assert browser.evaluate("document.querySelectorAll('#layers-table tbody').length") == len(layers)
    names = browser.evaluate("Array.from(document.querySelectorAll('#layers-table tbody tr td:first-child')).map(t => t.textContent)")
    assert names == [layer.name for layer in layers]
    assert browser.evaluate("document.querySelectorAll('#compare-table thead th').length") == 2 + 2 * len(by_node)


def test_a_fleet_profile_s_warnings_are_the_same_in_the_terminal_the_json_and_the_page(fleet_profile_file, tmp_path):
    """Each node's profile warnings, from its result in the gathered JSON, are the lines the
    terminal printed and the page lists (its page once said "Warnings (0)" under five)."""
    from html import unescape

    from flopbench.fleet.compare import column_label
    from flopbench.profiling.profile import ProfileResult
    from flopbench.render.profile import labelled_profile_warnings

    out, done = fleet_profile_file
    fleet = FleetResult.from_dict(json.loads(out.read_text()))
    expected = [line for record in fleet.done for line in labelled_profile_warnings(
        column_label(fleet, record.point["model"], record.node_id), ProfileResult.from_dict(record.result))]
    assert expected  # sep_cnn has layers under 10 µs on every machine: coarse_times at least
    page = tmp_path / "machines.html"
    assert main(["report", str(out), "-o", str(page)]) == 0
    section = page.read_text(encoding="utf-8").split('<section id="warnings">', 1)[1].split("</section>", 1)[0]
    # the same lines (the page orders its columns by node, the file by when each ended)
    assert sorted(unescape(item) for item in re.findall(r"<li>(.*?)</li>", section)) == sorted(expected)
    printed = " ".join(done.stdout.split())  # the terminal wraps long lines
    assert all(" ".join(f"warning: {line}".split()) in printed for line in expected)


def test_inputs_travel_to_the_nodes_by_content(cluster, zoo_dir, tmp_path):
    """-i and the model given as paths relative to the driver's folder, which is not the folder the
    nodes' workers run in (the cluster's): a node can only have the data by content."""
    (tmp_path / "sep_cnn.onnx").write_bytes((zoo_dir / "sep_cnn.onnx").read_bytes())
    data = np.random.default_rng(7).random((1, 1, 28, 28), dtype=np.float32)
    np.save(tmp_path / "mine.npy", data)
    assert Path.cwd() != tmp_path and not (Path.cwd() / "mine.npy").exists()
    done = subprocess.run([sys.executable, "-m", "flopbench", "fleet", "bench", "sep_cnn.onnx", "-i", "mine.npy", "--address",
                           cluster.address, "-t", "0.1", "-niter", "3", "--json", "out.json"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=240, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    document = json.loads((tmp_path / "out.json").read_text())
    validate(document)
    assert {r["node_id"] for r in document["points"]} == {cluster.head_node.node_id, cluster.second.node_id}
    assert all(r["status"] == "done" for r in document["points"]), document["points"]
    for record in document["points"]:
        used = record["result"]["results"][0]["inputs"]
        # named as the user gave it: the node's own copy lived in the point's folder, removed when the point ended
        assert "random" not in used and used == "mine.npy"


def test_fleet_bench_runs_a_tflite_on_litert_on_every_node(cluster, tmp_path):
    """A .tflite travels like any model and runs on LiteRT on each node; LiteRT times no nodes, so
    its results carry no roofline."""
    pytest.importorskip("ai_edge_litert", reason="LiteRT is not installed: pip install 'flopbench[litert]'")
    pytest.importorskip("tflite", reason="the tflite schema package is not installed: pip install 'flopbench[litert]'")
    from flopbench.zoo import write_zoo_model

    model = write_zoo_model("sep_cnn", tmp_path, fmt="tflite").tflite
    out = tmp_path / "fleet.json"
    done = _flopbench("fleet", "bench", model, "--engine", "litert", "--address", cluster.address, "-t", "0.1", "-niter", "3",
                      "--json", out)
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    validate(document)
    assert {r["node_id"] for r in document["points"]} == {cluster.head_node.node_id, cluster.second.node_id}
    for record in document["points"]:
        assert record["status"] == "done", record["error"]
        [result] = record["result"]["results"]
        assert result["engine"]["engine"] == "litert" and result["engine"]["precision"] == "f32"
        assert result["flops_per_inference"] == SEP_CNN_FLOPS and result["iterations"] >= 3
        assert record["result"]["metadata"]["rooflines"] == {}


def test_fleet_sweep_runs_every_point_once_one_at_a_time_per_node(cluster, zoo_dir, tmp_path):
    points_file, points = _points_file(tmp_path, zoo_dir)
    out = tmp_path / "sweep.json"
    done = _flopbench("fleet", "sweep", points_file, "--json", out, "--address", cluster.address)
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    validate(document)
    assert document["complete"]
    _assert_each_point_once(document, points)
    assert all(r["status"] == "done" for r in document["points"])
    assert {r["node_id"] for r in document["points"]} == {cluster.head_node.node_id, cluster.second.node_id}
    _assert_no_overlap(document)
    for record in document["points"]:  # the FLOPs of a batch of 2 are twice the exercise's
        if record["point"]["model"] == "sep_cnn.onnx":
            assert record["result"]["results"][0]["flops_per_inference"] == SEP_CNN_FLOPS * record["point"].get("batch", 1)
    assert "point" in done.stderr and "done on" in done.stderr  # a line per point off a terminal

    again = _flopbench("fleet", "sweep", points_file, "--json", out, "--address", cluster.address)
    assert again.returncode == 0, again.stderr
    assert "8 of 8 point(s) were done before" in again.stderr
    assert json.loads(out.read_text())["points"] == document["points"]  # nothing measured twice


def _children(pid: int) -> set[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = set()
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat_file.parent.name))
    return found


def _interrupt_once_a_point_is_written(command: list[str], out: Path, signum: int = signal.SIGINT,
                                       started: set[int] | None = None, env: dict | None = None) -> dict:
    """Run `flopbench COMMAND`, press Ctrl-C (or send `signum`) once the results file holds a point,
    and return the file as the interrupted run left it (exit 130, valid, marked incomplete and
    interrupted). `started` receives the processes the command started meanwhile."""
    process = subprocess.Popen([sys.executable, "-m", "flopbench", *command], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not (out.exists() and json.loads(out.read_text())["points"]):
        if started is not None:
            started |= _children(process.pid)
        time.sleep(0.1)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.rstrip().endswith("wrote " + str(out) + " (incomplete run)"), stderr
    document = json.loads(out.read_text())
    validate(document)
    assert document["complete"] is False and document["interrupted"] is True
    return document


def test_ctrl_c_keeps_what_ended_and_a_rerun_finishes_the_rest(cluster, zoo_dir, tmp_path):
    points_file, points = _points_file(tmp_path, zoo_dir, seconds=0.5)
    out = tmp_path / "sweep.json"
    document = _interrupt_once_a_point_is_written(["fleet", "sweep", str(points_file), "--json", str(out),
                                                   "--address", cluster.address], out)
    assert 1 <= len(document["points"]) < len(points)
    assert all(r["status"] == "done" for r in document["points"])

    finished = _flopbench("fleet", "sweep", points_file, "--json", out, "--address", cluster.address)
    assert finished.returncode == 0, finished.stderr
    document = json.loads(out.read_text())
    assert document["complete"]
    _assert_each_point_once(document, points)
    _assert_no_overlap(document)


def test_ctrl_c_during_fleet_profile_keeps_each_node_result_that_ended(cluster, zoo_dir, tmp_path):
    """8 profiles (2 nodes × 2 models × 2 engines), stopped once the first is written: the file keeps
    what ended, says it is incomplete, and the same command finishes only the rest."""
    models = []
    for model in ("sep_cnn", "std_cnn"):
        models.append(tmp_path / f"{model}.onnx")
        models[-1].write_bytes((zoo_dir / f"{model}.onnx").read_bytes())
    out = tmp_path / "profile.json"
    command = ["fleet", "profile", *map(str, models), "--engine", "openvino,onnxruntime", "-niter", "300", "--warmup", "2",
               "--precision", "f32", "--address", cluster.address, "--json", str(out)]
    document = _interrupt_once_a_point_is_written(command, out)
    kept = {(r["node_id"], r["point"]["model"], r["point"]["engine"]) for r in document["points"]}
    assert 1 <= len(kept) < 8 and all(r["status"] == "done" for r in document["points"])

    finished = _flopbench(*command)
    assert finished.returncode == 0, finished.stderr
    document = json.loads(out.read_text())
    assert document["complete"]
    every = {(r["node_id"], r["point"]["model"], r["point"]["engine"]) for r in document["points"]}
    expected_nodes = {cluster.head_node.node_id, cluster.second.node_id}
    assert every == {(node, str(model), engine) for node in expected_nodes for model in models
                     for engine in ("openvino", "onnxruntime")}
    assert len(document["points"]) == 8  # each once: what ended before Ctrl-C was not measured again
    _assert_no_overlap(document)


def test_sigterm_keeps_what_ended_and_stops_the_local_ray_it_started(zoo_dir, tmp_path, request):
    """SIGTERM, as a job scheduler or `kill` sends it, is Ctrl-C: on a local Ray the command started
    itself, the file keeps the points that ended (marked interrupted), and that Ray is gone when the
    command exits (Ray's own SIGTERM handler would exit 1 without the file, its processes left),
    and so are the folders its points unpacked their files into (the point that was running when
    Ray's workers were ended included), in a temporary folder of the test's own."""
    points_file, points = _points_file(tmp_path, zoo_dir, seconds=0.5)
    out = tmp_path / "sweep.json"
    started: set[int] = set()
    tmpdir = Path(tempfile.mkdtemp(prefix="fb-", dir="/tmp"))  # short: Ray puts its sockets there (107 bytes at most)
    request.addfinalizer(lambda: shutil.rmtree(tmpdir, ignore_errors=True))
    document = _interrupt_once_a_point_is_written(["fleet", "sweep", str(points_file), "--json", str(out)], out, signal.SIGTERM, started,
                                                  env={**os.environ, "TMPDIR": str(tmpdir)})
    assert 1 <= len(document["points"]) < len(points) and all(r["status"] == "done" for r in document["points"])
    assert started  # the local Ray's processes
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in started):
        time.sleep(0.2)
    left = [pid for pid in started if Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()]
    assert not left, [Path(f"/proc/{pid}/cmdline").read_text() for pid in left]
    unpacked = tmpdir / f"flopbench-fleet-{os.getuid()}"
    assert unpacked.is_dir()  # the points did unpack there
    assert sorted(p.name for p in unpacked.iterdir()) == []
    assert not [p.name for p in tmpdir.iterdir() if p.name.startswith("flopbench") and p != unpacked]


def _ray_processes(pid: int) -> dict[int, str]:
    """Every process below `pid` (its children's children too) and its name, from /proc."""
    parents: dict[int, list[tuple[int, str]]] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat_file.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        parents.setdefault(int(text.rsplit(")", 1)[1].split()[1]), []).append((int(stat_file.parent.name), name))
    found, pending = {}, [pid]
    while pending:
        for child, name in parents.get(pending.pop(), ()):
            found[child] = name
            pending.append(child)
    return found


def _assert_gone(pids: set[int]) -> None:
    """Ray's processes end shortly after the command that started them (each SIGTERMed, then killed)."""
    deadline = time.monotonic() + 30
    alive = lambda: [p for p in pids if Path(f"/proc/{p}").exists() and "zombie" not in Path(f"/proc/{p}/status").read_text()]
    while time.monotonic() < deadline and alive():
        time.sleep(0.2)
    left = []
    for pid in alive():
        try:
            left.append(Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " "))
        except OSError:
            pass
    assert not left, left


@pytest.mark.parametrize("moment, signum", [("gcs_server", signal.SIGINT), ("raylet", signal.SIGINT), ("ray::IDLE", signal.SIGTERM)],
                         ids=["SIGINT-gcs", "SIGINT-raylet", "SIGTERM-worker"])
def test_a_signal_while_the_local_ray_starts_is_an_interruption(moment, signum, sep_cnn_onnx, tmp_path):
    """Ctrl-C or SIGTERM while the command starts its local Ray (its GCS up; its raylet up; its
    first worker up, the driver connecting): exit 130 with one line, never a death by a signal (a
    segfault was seen as Python tore down a half-started Ray), no results file, and none of the
    Ray processes left behind."""
    out = tmp_path / "fleet.json"
    process = subprocess.Popen([sys.executable, "-m", "flopbench", "fleet", "bench", str(sep_cnn_onnx), "-t", "0.1", "--json", str(out)],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 180
        while moment not in started.values():
            assert process.poll() is None and time.monotonic() < deadline, (moment, started, process.communicate())
            started |= _ray_processes(process.pid)
            time.sleep(0.05)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, (process.returncode, stderr)
    assert stderr.strip().splitlines()[-1] == "flopbench: interrupted" and "Traceback" not in stderr, stderr
    assert not out.exists()
    _assert_gone(set(started))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_after_a_fleet_run_wrote_its_file_is_no_signal_death(signum, sep_cnn_onnx, tmp_path):
    """Sent the moment a fleet bench on a local Ray says it wrote its file: the file is whole, the
    exit is the command's own (0) or 130, and the local Ray is gone all the same."""
    out = tmp_path / "fleet.json"
    process = subprocess.Popen([sys.executable, "-m", "flopbench", "fleet", "bench", str(sep_cnn_onnx), "-t", "0.1", "--json", str(out)],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started: dict[int, str] = {}
    try:
        for line in process.stderr:
            started |= _ray_processes(process.pid)
            if line.startswith("wrote "):
                process.send_signal(signum)
                break
        process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode in (0, 130), process.returncode
    assert json.loads(out.read_text())["complete"] is True
    assert started
    _assert_gone(set(started))


def test_without_ray_the_error_says_how_to_install_it(sep_cnn_onnx):
    # `ray` made unimportable in this one process: what a machine without the extra sees
    code = ("import sys; sys.modules['ray'] = None; from flopbench.cli.main import main; "
            f"sys.exit(main(['fleet', 'bench', {str(sep_cnn_onnx)!r}, '-t', '0.1']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == ('flopbench: error: Ray is not installed, and flopbench fleet runs on a Ray cluster; '
                                   'install it: pip install "flopbench[fleet]"')


def test_study_sepconv_ray_spreads_the_study_points_over_the_nodes(cluster, tmp_path):
    tiny = {"in_channels": 8, "out_channels": 8, "kernel": 3, "size": 8, "engine": "openvino", "precision": "f32",
            "seconds": 0.05, "repeats": 1, "profile_iterations": 2}
    points = tmp_path / "points.json"
    points.write_text(json.dumps([{**tiny, "stride": stride} for stride in (1, 2)]))
    out = tmp_path / "study"
    done = _flopbench("study", "sepconv", "--points", points, "-o", out, "--format", "json", "--address", cluster.address)
    assert done.returncode == 0, done.stderr
    fleet = json.loads((out / "fleet.json").read_text())
    validate(fleet)
    assert fleet["complete"] and [r["status"] for r in fleet["points"]] == ["done", "done"]
    _assert_no_overlap(fleet)
    study = json.loads((out / "results.json").read_text())
    validate(study)
    assert json.loads(done.stdout) == study
    assert [r["status"] for r in study["records"]] == ["done", "done"]
    assert {r["node_id"] for r in study["records"]} <= {cluster.head_node.node_id, cluster.second.node_id}
    # the separable twin of a 3×3 convolution 8→8 at 8×8, padded, stride s: (8·9 + 8·8) / (8·8·9) of the FLOPs
    assert all(abs(r["flop_ratio"] - (8 * 9 + 8 * 8) / (8 * 8 * 9)) < 1e-9 for r in study["records"])
    # its page, from the results file: each point's row names the node it ran on
    page = tmp_path / "study.html"
    rendered = _flopbench("report", out / "results.json", "-o", page)
    assert rendered.returncode == 0, rendered.stderr
    html = page.read_text()
    assert "<th" in html and ">Node<" in html
    for record in study["records"]:
        row = html[html.index(f">{record['key']}<"):]
        row = row[: row.index("</tr>")]
        assert f">{record['node_id'][:8]}<" in row


def _onnx_with_linked_weights(folder: Path, zoo_dir: Path, target: Path) -> Path:
    """sep_cnn with its weights in an external file `weights.dat` that is a symlink to `target`."""
    import onnx

    folder.mkdir()
    model = folder / "m.onnx"
    onnx.save(onnx.load(str(zoo_dir / "sep_cnn.onnx")), str(model), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.dat", size_threshold=0)
    (folder / "weights.dat").unlink()
    (folder / "weights.dat").symlink_to(target)
    return model


def test_external_data_linked_out_of_the_models_folder_is_refused_on_the_driver(cluster, zoo_dir, tmp_path):
    secret = tmp_path / "private.dat"
    secret.write_bytes(b"SECRET-BYTES-" * 100_000)  # large enough to stand in for every weight
    secret.chmod(0o600)
    for target in (secret, Path("/etc/passwd")):
        model = _onnx_with_linked_weights(tmp_path / f"to-{target.name}", zoo_dir, target)
        out = model.parent / "fleet.json"
        done = _flopbench("fleet", "bench", model, "--address", cluster.address, "-t", "0.1", "--json", out)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == ("flopbench: error: ONNX external data file weights.dat resolves outside the model's folder "
                                       f"{model.parent}; copy the file into the model's folder: flopbench reads no file outside it, "
                                       "symlinks included")
        assert not out.exists()
    # nothing of the private file reached a node's folder
    root = Path(tempfile.gettempdir())
    for folder in [*root.glob("flopbench-fleet*")]:
        for file in folder.rglob("*"):
            assert not file.is_file() or b"SECRET-BYTES-" not in file.read_bytes(), file


def test_a_file_or_link_planted_in_the_node_folder_is_never_used(cluster, sep_cnn_onnx, tmp_path):
    """Planted where a node would look for the model by its content's hash: a symlink to a folder
    holding a file of the model's name and size that is not the model. The run measures the
    driver's model, writes nothing through the link, and leaves nothing of its own behind."""
    package = pack_model(sep_cnn_onnx)
    root = private_root()
    lure = tmp_path / "lure"
    lure.mkdir()
    decoy = lure / sep_cnn_onnx.name
    decoy.write_bytes(b"\0" * len(package.files[0][1]))
    planted = root / package.digest
    planted.symlink_to(lure)
    before = {p.name for p in root.iterdir()}
    try:
        out = tmp_path / "fleet.json"
        done = _flopbench("fleet", "bench", sep_cnn_onnx, "--address", cluster.address, "-t", "0.1", "-niter", "3", "--json", out)
        assert done.returncode == 0, done.stderr
        document = json.loads(out.read_text())
        assert [r["status"] for r in document["points"]] == ["done", "done"]
        assert all(r["result"]["results"][0]["flops_per_inference"] == SEP_CNN_FLOPS for r in document["points"])
        assert [p.name for p in lure.iterdir()] == [decoy.name] and decoy.read_bytes() == b"\0" * len(package.files[0][1])
        assert {p.name for p in root.iterdir()} == before  # each point's folder was removed when it ended
        assert stat.S_IMODE(root.lstat().st_mode) == 0o700 and root.lstat().st_uid == os.getuid()
    finally:
        planted.unlink()


def test_a_node_folder_that_is_not_private_is_refused(sep_cnn_onnx, tmp_path, monkeypatch):
    """The per-user folder planted by someone else (a symlink, a folder open to all, another
    user's): a point on that node fails with the reason, and nothing is written there."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    root = tmp_path / f"flopbench-fleet-{os.getuid()}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    runner = BenchPoints(packages={"m.onnx": pack_model(sep_cnn_onnx)})
    point = {"model": "m.onnx", "seconds": 0.01, "niter": 1, "warmup": 0}
    for plant, reason in ((lambda: root.symlink_to(elsewhere), "is a symlink"),
                          (lambda: (root.mkdir(), root.chmod(0o777)), "is open to others (mode 777)"),
                          (lambda: (root.mkdir(mode=0o700), os.chown(root, 65534, 65534)), "is owned by uid 65534")):
        plant()
        with pytest.raises(FleetError, match=re.escape(f"the node's folder {root} {reason}, so another user could plant files in it")):
            runner(point)
        assert list(elsewhere.iterdir()) == [] and (root.is_symlink() or list(root.iterdir()) == [])
        root.unlink() if root.is_symlink() else root.rmdir()
    # a private folder is made when there is none, and each point's files are removed when it ends
    assert runner(point)["results"][0]["flops_per_inference"] == SEP_CNN_FLOPS
    assert stat.S_IMODE(root.stat().st_mode) == 0o700 and list(root.iterdir()) == []


def test_shipped_bytes_that_do_not_match_their_hash_are_refused(sep_cnn_onnx, tmp_path):
    package = pack_model(sep_cnn_onnx)
    tampered = ModelPackage(files=((package.name, package.files[0][1][:-1] + b"\1"),), digest=package.digest)
    with pytest.raises(FleetError, match="do not match their hash"):
        unpack_model(tampered, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_fleet_sweep_none_of_whose_points_ran_exits_2_and_keeps_the_failures(cluster, zoo_dir, tmp_path):
    """As `study --points`: nothing measured is not a success a script may take for done; the file
    still records each failure with its reason, and the one line names it and the first reason."""
    (tmp_path / "sep_cnn.onnx").write_bytes((zoo_dir / "sep_cnn.onnx").read_bytes())
    points = [{"model": "sep_cnn.onnx", "engines": ["openvino"], "device": device, "seconds": 0.1, "niter": 3, "warmup": 1}
              for device in ("GPU", "NPU")]
    (tmp_path / "points.json").write_text(json.dumps(points))
    out = tmp_path / "sweep.json"
    done = _flopbench("fleet", "sweep", tmp_path / "points.json", "--json", out, "--address", cluster.address)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("flopbench: error: none of the 2 point(s) ran") and str(out) in last and "'GPU'" in last
    document = json.loads(out.read_text())
    assert [r["status"] for r in document["points"]] == ["failed", "failed"] and all(r["error"] for r in document["points"])


def test_a_node_removed_mid_sweep_loses_no_point(cluster, zoo_dir, tmp_path):
    """Stays last: the second node is gone afterwards."""
    points_file, points = _points_file(tmp_path, zoo_dir, seconds=1.0)
    out = tmp_path / "sweep.json"
    second = cluster.second.node_id
    process = subprocess.Popen([sys.executable, "-m", "flopbench", "fleet", "sweep", str(points_file), "--json", str(out),
                                "--address", cluster.address], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # once the second node has finished a point, the next one is already running there
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and any(r["node_id"] == second for r in json.loads(out.read_text())["points"]):
            break
        time.sleep(0.1)
    cluster.remove_node(cluster.second)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    document = json.loads(out.read_text())
    validate(document)
    _assert_each_point_once(document, points)
    for record in document["points"]:
        assert record["status"] in ("done", "failed")
        if record["status"] == "failed":
            assert record["error"]
    lost = [a for r in document["points"] for a in r["attempts"]]
    assert lost and all(a["node_id"] == second and a["error"] for a in lost), document["points"]
    retried = [r for r in document["points"] if r["attempts"]]
    assert all(r["status"] == "done" and r["node_id"] == cluster.head_node.node_id for r in retried)
    _assert_no_overlap(document)
    assert "trying it again elsewhere" in stderr


def test_the_local_rays_orphans_stay_below_the_command_until_it_shuts_ray_down():
    """A process whose parent ends while a local Ray runs (the dashboard agent of a raylet stopped
    as it spawned it once outlived the run by 30 s) is re-parented to the command, so the shutdown
    that ends every Ray process below the command still finds it; outside that time, to init as before."""
    from flopbench.fleet.cluster import _orphans_kept

    def orphan_parent() -> tuple[int, int]:
        shell = subprocess.run(["sh", "-c", "sleep 30 & echo $!"], capture_output=True, text=True, check=True)
        orphan = int(shell.stdout)  # the shell has exited: its background sleep is re-parented already
        return orphan, int(Path(f"/proc/{orphan}/stat").read_text().rsplit(")", 1)[1].split()[1])

    with _orphans_kept():
        orphan, parent = orphan_parent()
    os.kill(orphan, signal.SIGKILL)
    os.waitpid(orphan, 0)
    assert parent == os.getpid()
    orphan, parent = orphan_parent()
    os.kill(orphan, signal.SIGKILL)
    assert parent != os.getpid()
