"""`flopbench report`: a real model counted and measured on both engines, written as one HTML page,
opened in Debian's headless Chromium (driven over the DevTools protocol) and clicked."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import flopbench
from flopbench.cli.main import main

from chromium import Chromium

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def measured_page(tmp_path_factory, sep_cnn_onnx):
    """The page of sep_cnn measured now on OpenVINO and ONNX Runtime, through the command line."""
    folder = tmp_path_factory.mktemp("report")
    page = folder / "sep_cnn.html"
    code = main(["report", str(sep_cnn_onnx), "--engine", "openvino,onnxruntime", "-t", "0.2", "-niter", "50",
                 "--precision", "f32", "-o", str(page)])
    assert code == 0
    return page


@pytest.fixture(scope="module")
def browser():
    with Chromium(width=1200, height=900) as chromium:
        yield chromium


def test_page_is_self_contained_and_has_the_exercise_numbers(measured_page, sep_cnn_onnx):
    text = measured_page.read_text(encoding="utf-8")
    assert not re.search(r"https?://", text)
    # every reference is to something inside the page (#id)
    assert not re.search(r"""(?:src|href)\s*=\s*(?:"(?!#)|'(?!#)|(?!["'#]))""", text)
    assert not re.search(r"""url\(\s*["']?(?!#)""", text)
    assert re.search(r'href="#', text) and re.search(r"url\(#", text)  # the patterns above do match references
    cost = flopbench.count(sep_cnn_onnx)
    # the exercise's totals, worked out by hand in its text (25,688 + 161,280 + 737,280 + 2,560)
    assert cost.total_flops == 926_808
    assert "926,808" in text and "25,688" in text and "161,280" in text and "737,280" in text
    for layer in cost.layers:
        assert f">{layer.name}<" in text
    assert f"flopbench report {sep_cnn_onnx}" in text  # the command that made it


def test_the_page_in_a_real_browser(measured_page, browser, sep_cnn_onnx, tmp_path):
    cost = flopbench.count(sep_cnn_onnx)
    load_s = browser.open(measured_page)
    assert load_s < 60
    assert browser.errors() == []
    # nothing but the page's own file was requested: it renders with the network off
    assert browser.requests() == [measured_page.resolve().as_uri()]

    charts = browser.evaluate("""Array.from(document.querySelectorAll('svg.chart')).map(function(svg){
        var box = svg.getBoundingClientRect(), inner = svg.getBBox();
        return {id: svg.id, width: box.width, height: box.height, innerWidth: inner.width, innerHeight: inner.height,
                shapes: svg.querySelectorAll('path, use, text').length, titles: svg.querySelectorAll('title').length};
    })""")
    # the per-layer chart and one latency histogram per engine
    assert [c["id"] for c in charts] == ["chart-layers", "chart-latency-0", "chart-latency-1"]
    for chart in charts:
        assert chart["width"] > 200 and chart["height"] > 100, chart
        assert chart["innerWidth"] > 100 and chart["innerHeight"] > 50, chart
        assert chart["shapes"] > 20 and chart["titles"] > 0, chart
    # one hover title per layer bar, in the model's order
    layer_titles = browser.evaluate("Array.from(document.querySelectorAll('#chart-layers title')).map(t => t.textContent)")
    assert [t.split(" (")[0] for t in layer_titles] == [layer.name for layer in cost.layers]

    rows = browser.evaluate("""Array.from(document.querySelectorAll('#layer-table tbody')).map(function(body){
        return Array.from(body.rows).map(function(row){ return row.cells[1].textContent; });
    })""")
    assert len(rows) == len(cost.layers)  # a row per layer, its parts under it
    assert [group[0] for group in rows] == [layer.name for layer in cost.layers]
    assert [len(group) for group in rows] == [1 + len(layer.parts) for layer in cost.layers]

    browser.screenshot(tmp_path / "before-sort.png")

    def click_header(name: str) -> None:
        box = browser.evaluate(f"""(function(){{
            var th = Array.from(document.querySelectorAll('#layer-table thead th')).find(t => t.textContent === {name!r});
            th.scrollIntoView({{block: 'center'}});
            var r = th.getBoundingClientRect(); return {{x: r.x + r.width / 2, y: r.y + r.height / 2}};
        }})()""")
        browser.click(box["x"], box["y"])

    def layer_order() -> list[str]:
        return browser.evaluate("Array.from(document.querySelectorAll('#layer-table tbody')).map(b => b.rows[0].cells[1].textContent)")

    by_flops = sorted(cost.layers, key=lambda layer: layer.flops)
    click_header("FLOPs")
    order = layer_order()
    flops_of = {layer.name: layer.flops for layer in cost.layers}
    assert [flops_of[name] for name in order] == [layer.flops for layer in by_flops]
    assert order[-1] == "fc1"  # 737,280 of 926,808 FLOPs
    click_header("FLOPs")
    assert layer_order()[0] == "fc1"
    assert browser.evaluate("document.querySelector('#layer-table th[aria-sort]').textContent") == "FLOPs"
    click_header("Layer")
    assert layer_order() == sorted(flops_of, key=str.lower)
    # a separable layer's parts travel with it
    groups = browser.evaluate("""Array.from(document.querySelectorAll('#layer-table tbody')).map(
        b => Array.from(b.rows).map(r => r.cells[1].textContent))""")
    assert ["sepconv1", "└ sepconv1/depthwise", "└ sepconv1/pointwise"] in groups
    click_header("#")
    assert layer_order() == [layer.name for layer in cost.layers]

    shot = browser.screenshot(tmp_path / "report.png")
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 50_000
    assert browser.errors() == []


def test_the_browser_check_sees_console_errors(browser, tmp_path):
    """The check above can fail: a page that logs an error, or fetches something, is caught."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("boom");</script>'
                    '<img src="missing.png"></body></html>', encoding="utf-8")
    browser.open(page)
    errors = browser.errors()
    assert any("boom" in e for e in errors)
    assert any(url.endswith("missing.png") for url in browser.requests())


def test_a_page_from_results_measured_earlier(sep_cnn_onnx, browser, tmp_path):
    """flops -o and bench --json --save-latencies, then report of the two files: nothing is measured
    again, and the page shows the files' numbers."""
    import json

    from flopbench.render.bench import fmt_ns

    cost_json, bench_json, page = tmp_path / "cost.json", tmp_path / "bench.json", tmp_path / "page.html"
    assert main(["flops", str(sep_cnn_onnx), "-o", str(cost_json)]) == 0
    assert main(["bench", str(sep_cnn_onnx), "--engine", "openvino,onnxruntime", "-t", "0.2", "-niter", "50",
                 "--json", str(bench_json), "--save-latencies"]) == 0
    assert main(["report", str(cost_json), str(bench_json), "-o", str(page)]) == 0
    measured = json.loads(bench_json.read_text())
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"https?://", text)
    for result in measured["results"]:
        latency = result["engine_latency"] or result["call_latency"]
        assert fmt_ns(latency["median_ns"]) in text
    assert str(cost_json) in text and str(bench_json) in text  # where the numbers came from

    browser.open(page)
    assert browser.errors() == []
    assert browser.requests() == [page.resolve().as_uri()]
    # every saved latency is in its histogram: the bars' counts add up to the runs in the file
    for index, result in enumerate(measured["results"]):
        titles = browser.evaluate(f"Array.from(document.querySelectorAll('#chart-latency-{index} title')).map(t => t.textContent)")
        kind = "engine" if result["engine_latency"] else "call"
        runs = sum(int(re.search(r": ([\d,]+) runs", t).group(1).replace(",", "")) for t in titles)
        assert runs == len(measured["results"][index]["latencies_ns"][kind]) == result[f"{kind}_latency"]["count"]
    assert browser.evaluate("document.querySelectorAll('#layer-table tbody').length") == len(flopbench.count(sep_cnn_onnx).layers)
    browser.screenshot(tmp_path / "from-results.png")


def test_ctrl_c_writes_the_page_of_what_was_measured(sep_cnn_xml, tmp_path):
    import select
    import signal
    import subprocess
    import sys
    import time

    page = tmp_path / "partial.html"
    process = subprocess.Popen([sys.executable, "-m", "flopbench", "report", str(sep_cnn_xml), "-t", "60", "-o", str(page)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    line = ""
    while time.time() < deadline and "measuring" not in line:
        ready, _, _ = select.select([process.stderr], [], [], 1.0)
        if ready:
            line = process.stderr.readline()
            if not line:
                break
    assert "measuring openvino" in line, line
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    text = page.read_text(encoding="utf-8")
    assert "interrupted (Ctrl-C)" in text and "INCOMPLETE" in text
    assert 'id="chart-latency-0"' in text
