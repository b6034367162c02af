"""`flopbench report`: a real model counted and measured on both engines, written as one HTML page,
opened in Debian's headless Chromium (driven over the DevTools protocol) and clicked."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import flopbench
from flopbench.cli.main import main
from flopbench.render.report import LAYER_HEADS


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def measured_page(tmp_path_factory, sep_cnn_onnx, roofline_cache):
    """The page of sep_cnn counted, measured and profiled now on OpenVINO and ONNX Runtime, through
    the command line (on the test session's quick roofline)."""
    folder = tmp_path_factory.mktemp("report")
    page = folder / "sep_cnn.html"
    code = main(["report", str(sep_cnn_onnx), "--engine", "openvino,onnxruntime", "-t", "0.2", "-niter", "50",
                 "--profile-niter", "30", "--precision", "f32", "-o", str(page)])
    assert code == 0
    return page


@pytest.fixture(scope="module")
def python_page(sep_cnn_onnx, roofline_cache):
    """The same page made from Python, with the same model and settings as `measured_page`."""
    return flopbench.report(sep_cnn_onnx, engines=("openvino", "onnxruntime"), precision="f32", seconds=0.2, niter=50,
                            profile_iterations=30)


def assert_self_contained(text: str) -> None:
    """No web address anywhere (not even an SVG namespace), and every reference is to something
    inside the page (#id)."""
    assert not re.search(r"https?://", text)
    assert not re.search(r"""(?:src|href)\s*=\s*(?:"(?!#)|'(?!#)|(?!["'#]))""", text)
    assert not re.search(r"""url\(\s*["']?(?!#)""", text)
    assert re.search(r'href="#', text) and re.search(r"url\(#", text)  # the patterns above do match references


def test_page_is_self_contained_and_has_the_exercise_numbers(measured_page, sep_cnn_onnx):
    text = measured_page.read_text(encoding="utf-8")
    assert_self_contained(text)
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
    # per engine: FLOPs and time per layer, the roofline, the latency histogram
    assert [c["id"] for c in charts] == ["chart-layers-0", "chart-layers-1", "chart-roofline-0", "chart-roofline-1",
                                         "chart-latency-0", "chart-latency-1"]
    for chart in charts:
        assert chart["width"] > 200 and chart["height"] > 100, chart
        assert chart["innerWidth"] > 100 and chart["innerHeight"] > 50, chart
        assert chart["shapes"] > 20 and chart["titles"] > 0, chart
    # one hover title per bar: FLOPs and time of each layer in the model's order, then the time outside layers
    # (a separable layer as its depthwise and pointwise parts)
    names = [leaf.name for layer in cost.layers for leaf in (layer.parts or (layer,))] + ["(engine's own nodes)", "(outside layers)"]
    for chart in ("chart-layers-0", "chart-layers-1"):
        titles = browser.evaluate(f"Array.from(document.querySelectorAll('#{chart} title')).map(t => t.textContent)")
        assert len(titles) == 2 * len(names)
        flops_titles, time_titles = titles[: len(names)], titles[len(names):]
        assert all(t.startswith(f"{n} (") or t.startswith(f"{n}:") for t, n in zip(flops_titles, names)), flops_titles
        assert all(t.startswith(f"{n}: ") and " µs, " in t for t, n in zip(time_titles, names)), time_titles
    # the roofline has a point for each layer (and part) fast enough to rate
    assert browser.evaluate("document.querySelectorAll('#chart-roofline-0 title').length") >= 3

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
    assert ["conv1", "└ conv1/depthwise", "└ conv1/pointwise"] in groups
    click_header("#")
    assert layer_order() == [layer.name for layer in cost.layers]
    # sorting by the measured time: the cells' own values, in order
    click_header("openvino µs")
    times = browser.evaluate("""(function(){
        var col = Array.from(document.querySelectorAll('#layer-table thead th')).findIndex(t => t.textContent === 'openvino µs');
        return Array.from(document.querySelectorAll('#layer-table tbody')).map(b => b.rows[0].cells[col].getAttribute('data-v'));
    })()""")
    values = [float(v) for v in times if v is not None]
    assert len(values) >= len(cost.layers) - 1 and values == sorted(values)

    shot = browser.screenshot(tmp_path / "report.png")
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 50_000
    assert browser.errors() == []


# what a page shows that does not depend on the run's timing: its sections, headings, card labels,
# the model's cards, the charts, and every counted column of the layer table
PAGE_CONTENT = """(function(){
    var text = el => el.textContent;
    var heads = Array.from(document.querySelectorAll('#layer-table thead th')).map(text);
    var counted = %s.map(h => heads.indexOf(h));
    var cards = Array.from(document.querySelectorAll('.card')).map(c => [c.querySelector('.label').textContent,
                                                                        c.querySelector('.value').textContent]);
    var model = %s;
    return {sections: Array.from(document.querySelectorAll('section')).map(s => s.id),
            headings: Array.from(document.querySelectorAll('h1, h2, h3')).map(text).filter(t => !t.startsWith('Warnings')),
            cardLabels: cards.map(c => c[0]),
            modelCards: cards.filter(c => model.indexOf(c[0]) >= 0),
            charts: Array.from(document.querySelectorAll('svg.chart')).map(s => s.id),
            layerFlopsTitles: Array.from(document.querySelectorAll('#chart-layers-0 title')).map(text)
                              .filter(t => t.indexOf(' µs, ') < 0),
            heads: heads,
            layers: Array.from(document.querySelectorAll('#layer-table tbody tr')).map(r => counted.map(i => r.cells[i].textContent))};
})()"""
COUNTED_HEADS = ["#", "Layer", "Type", "Input", "Kernel", "Kernels", "Output", "MACs", "FLOPs", "% FLOPs", "Other FLOPs",
                 "Precision", "Params", "Weight bytes", "Bytes moved"]
MODEL_CARDS = ["FLOPs", "MACs", "Parameters", "Weights stored", "Bytes moved", "Peak activations"]


def test_the_page_made_from_python_is_the_page_the_command_makes(measured_page, python_page, browser, sep_cnn_onnx, tmp_path):
    """flopbench.report(...) makes the page flopbench report writes: the same model and settings
    give the same sections, charts, cards and layer table (the times aside, measured twice)."""
    import html
    import json

    assert python_page.complete
    page = python_page.save(tmp_path / "python.html")
    assert page.read_text(encoding="utf-8") == python_page.html
    assert_self_contained(python_page.html)
    assert html.escape(f"flopbench.report({str(sep_cnn_onnx)!r})") in python_page.html  # how it was made, as the CLI's page says
    script = PAGE_CONTENT % (json.dumps(COUNTED_HEADS), json.dumps(MODEL_CARDS))
    contents = []
    for path in (measured_page, page):
        browser.open(path)
        assert browser.errors() == []
        contents.append(browser.evaluate(script))
    from_cli, from_python = contents
    assert from_python == from_cli
    cost = flopbench.count(sep_cnn_onnx)
    assert len(from_python["layers"]) == sum(1 + len(layer.parts) for layer in cost.layers)
    flops = {row[COUNTED_HEADS.index("Layer")]: row[COUNTED_HEADS.index("FLOPs")] for row in from_python["layers"]}
    assert flops["fc1"] == "737,280" and flops["fc2"] == "2,560"  # the exercise's hand count
    assert from_python["charts"] == ["chart-layers-0", "chart-layers-1", "chart-roofline-0", "chart-roofline-1",
                                     "chart-latency-0", "chart-latency-1"]
    assert ["FLOPs", "927 kFLOPs"] in from_python["modelCards"] and ["MACs", "463 kMACs"] in from_python["modelCards"]
    # in a notebook the page shows in a frame of its own, whole
    frame = re.fullmatch(r'<iframe srcdoc="([^"]*)" style="[^"]*"></iframe>', python_page._repr_html_())
    assert frame and html.unescape(frame.group(1)) == python_page.html
    # a page never lands over the model it was made from
    with pytest.raises(flopbench.FlopbenchError):
        python_page.save(sep_cnn_onnx)


def test_the_browser_check_sees_console_errors(browser, tmp_path):
    """The check above can fail: a page that logs an error, or fetches something, is caught."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("boom");</script>'
                    '<img src="missing.png"></body></html>', encoding="utf-8")
    browser.open(page)
    errors = browser.errors()
    assert any("boom" in e for e in errors)
    assert any(url.endswith("missing.png") for url in browser.requests())


def test_a_page_from_results_measured_earlier(sep_cnn_onnx, browser, tmp_path, roofline_cache):
    """flops -o, bench --json --save-latencies and profile -o, then report of the three files:
    nothing is measured again, and the page shows the files' numbers."""
    import json

    from flopbench.render.units import duration as fmt_ns

    cost_json, bench_json, page = tmp_path / "cost.json", tmp_path / "bench.json", tmp_path / "page.html"
    assert main(["flops", str(sep_cnn_onnx), "-o", str(cost_json)]) == 0
    assert main(["bench", str(sep_cnn_onnx), "--engine", "openvino,onnxruntime", "-t", "0.2", "-niter", "50",
                 "--json", str(bench_json), "--save-latencies"]) == 0
    profile_json = tmp_path / "profile.json"
    assert main(["profile", str(sep_cnn_onnx), "-niter", "20", "-o", str(profile_json)]) == 0
    assert main(["report", str(cost_json), str(bench_json), str(profile_json), "-o", str(page)]) == 0
    measured = json.loads(bench_json.read_text())
    profiled = json.loads(profile_json.read_text())
    text = page.read_text(encoding="utf-8")
    assert_self_contained(text)
    for result in measured["results"]:
        latency = result["engine_latency"] or result["call_latency"]
        assert fmt_ns(latency["median_ns"]) in text
    assert str(cost_json) in text and str(bench_json) in text  # where the numbers came from
    # the same files through flopbench.report make the same page; only the line that made it differs
    made = flopbench.report([cost_json, bench_json, profile_json])
    command = re.compile(r"<pre><code>[^<]*</code></pre>")
    assert len(command.findall(text)) == 1 and "flopbench.report(" in command.search(made.html).group(0)
    assert command.sub("", made.html) == command.sub("", text)

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
    # each layer's time in the table is the profile file's
    shown = browser.evaluate("""(function(){
        var col = Array.from(document.querySelectorAll('#layer-table thead th')).findIndex(t => t.textContent === 'openvino µs');
        return Array.from(document.querySelectorAll('#layer-table tbody tr')).map(r => [r.cells[1].textContent.replace('└ ', ''), r.cells[col].textContent]);
    })()""")
    expected = {row["name"]: f"{row['time_us']:,.1f}" for layer in profiled["layers"] for row in (layer, *layer["parts"])}
    assert {name: time for name, time in shown} == expected
    assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 1 + 1 + 2  # layers, roofline, 2 histograms
    browser.screenshot(tmp_path / "from-results.png")
    # a profile alone cannot be shown layer by layer, nor two profiles of one engine: one line, exit 2
    assert main(["report", str(profile_json), "-o", str(tmp_path / "alone.html")]) == 2
    assert main(["report", str(cost_json), str(profile_json), str(profile_json), "-o", str(tmp_path / "twice.html")]) == 2
    assert not (tmp_path / "alone.html").exists() and not (tmp_path / "twice.html").exists()


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


def test_compare_writes_the_same_kind_of_page(zoo_dir, browser, tmp_path):
    """flopbench compare --html: sep_cnn against its standard-conv twin, on one page."""
    page = tmp_path / "compare.html"
    assert main(["compare", str(zoo_dir / "sep_cnn.onnx"), str(zoo_dir / "std_cnn.onnx"), "-t", "0.2", "-niter", "50",
                 "--precision", "f32", "--html", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert_self_contained(text)
    # the exercise's hand count, and the standard twin's: 3x3 convs 1->10 (121,680) and 10->5 (518,400) + the FCs
    assert "926,808" in text and "1,379,920" in text and "1.489" in text
    browser.open(page)
    assert browser.errors() == []
    assert browser.requests() == [page.resolve().as_uri()]
    ids = browser.evaluate("Array.from(document.querySelectorAll('svg.chart')).map(s => s.id)")
    assert ids == ["chart-compare", "chart-latency-0", "chart-latency-1"]
    assert browser.evaluate("Array.from(document.querySelectorAll('svg.chart')).every(s => s.getBBox().width > 100)")
    assert browser.evaluate("document.querySelectorAll('#compare-table tbody').length") == 8  # 4 counts + 4 measured
    browser.screenshot(tmp_path / "compare.png")


# a tiny sweep: 16 and 32 channels on OpenVINO, 16 on ONNX Runtime, a twentieth of a second per measurement
STUDY_POINTS = [{"in_channels": channels, "out_channels": channels, "kernel": 3, "size": 16, "stride": 1, "engine": engine,
                 "precision": "f32", "seconds": 0.05, "repeats": 2, "profile_iterations": 5}
                for channels, engine in ((16, "openvino"), (32, "openvino"), (16, "onnxruntime"))]


def test_study_writes_the_same_kind_of_page(browser, tmp_path, roofline_cache, capsys):
    """flopbench study sepconv --html: the sweep's page, opened, sorted; then the same command again
    renders the page from the results already measured, measuring nothing."""
    import json

    from flopbench.results.schema import validate

    points, folder, page = tmp_path / "points.json", tmp_path / "study", tmp_path / "study.html"
    points.write_text(json.dumps(STUDY_POINTS))
    assert main(["study", "sepconv", "--points", str(points), "-o", str(folder), "--html", str(page)]) == 0
    document = json.loads((folder / "results.json").read_text())
    validate(document)
    records = document["records"]
    assert [r["status"] for r in records] == ["done", "done", "done"]
    assert all(r["parts"]["roofline"]["engine"] == r["point"]["engine"] for r in records)
    text = page.read_text(encoding="utf-8")
    assert_self_contained(text)
    # by hand: standard C·C·9·16·16 MACs, separable C·9·16·16 (depthwise) + C·C·16·16 (pointwise); FLOPs = 2 × MACs
    for channels in (16, 32):
        standard, separable = 2 * channels * channels * 9 * 256, 2 * (channels * 9 * 256 + channels * channels * 256)
        assert f">{standard:,}<" in text and f">{separable:,}<" in text
        assert f">{separable / standard:.3f}<" in text
    assert f"flopbench study sepconv --points {points} -o {folder} --html {page}" in text  # the command that made it
    roofline = roofline_cache["openvino"]
    assert f"{roofline.bandwidth_gb_per_s:,.1f} GB/s" in text  # the roofline the parts were placed on

    browser.open(page)
    assert browser.errors() == []
    assert browser.requests() == [page.resolve().as_uri()]
    charts = browser.evaluate("""Array.from(document.querySelectorAll('svg.chart')).map(function(svg){
        var box = svg.getBoundingClientRect(), inner = svg.getBBox();
        return {id: svg.id, width: box.width, height: box.height, innerWidth: inner.width, innerHeight: inner.height,
                titles: Array.from(svg.querySelectorAll('title')).map(t => t.textContent)};
    })""")
    # the speedup, the depthwise share, and a roofline per engine:precision
    assert [c["id"] for c in charts] == ["chart-speedup", "chart-split", "chart-roofline-0", "chart-roofline-1"]
    for chart in charts:
        assert chart["width"] > 200 and chart["height"] > 100, chart
        assert chart["innerWidth"] > 100 and chart["innerHeight"] > 50, chart
    # a point per record on the speedup chart, two bars per profiled record on the split chart, each titled with its numbers
    speedup = charts[0]["titles"]
    assert sorted(t.split(" ")[0] for t in speedup) == sorted(r["key"] for r in records)
    for record in records:
        title = next(t for t in speedup if t.startswith(record["key"]))
        assert f"{1 / record['flop_ratio']:,.2f}× fewer FLOPs, {1 / record['time_ratio']['median']:,.2f}× faster" in title
    split = charts[1]["titles"]
    assert len(split) == 2 * len(records)
    for record in records:
        share = 100 * record["parts"]["depthwise"]["share"]
        said = f"{record['key']}: the depthwise part takes {share:.1f}% of the separable layer's time"
        assert any(t.startswith(said) for t in split[len(records):]), (said, split)

    # each profiled part (standard, depthwise, pointwise) fast enough to rate is a point on its engine's roofline
    for chart, engine in zip(charts[2:], ("openvino", "onnxruntime")):
        rated = [(r["key"], part) for r in records if r["point"]["engine"] == engine
                 for part in ("standard", "depthwise", "pointwise") if r["parts"][part]["gflops_per_s"] is not None]
        assert len(chart["titles"]) == len(rated) >= 3
        label = {"standard": "standard k×k", "depthwise": "depthwise k×k", "pointwise": "pointwise 1×1"}
        assert sorted(t.split(":")[0] for t in chart["titles"]) == sorted(f"{key} {label[part]}" for key, part in rated)

    def column(name: str) -> list[str | None]:
        return browser.evaluate(f"""(function(){{
            var col = Array.from(document.querySelectorAll('#points-table thead th')).findIndex(t => t.textContent === {name!r});
            return Array.from(document.querySelectorAll('#points-table tbody')).map(b => b.rows[0].cells[col].getAttribute('data-v')
                                                                                    || b.rows[0].cells[col].textContent);
        }})()""")

    assert column("Point") == [r["key"] for r in records]  # a row per point, in the sweep's order

    def click_header(name: str) -> None:
        box = browser.evaluate(f"""(function(){{
            var th = Array.from(document.querySelectorAll('#points-table thead th')).find(t => t.textContent === {name!r});
            th.scrollIntoView({{block: 'center', inline: 'center'}});
            var r = th.getBoundingClientRect(); return {{x: r.x + r.width / 2, y: r.y + r.height / 2}};
        }})()""")
        browser.click(box["x"], box["y"])

    click_header("Time ratio")
    by_time = sorted(records, key=lambda r: r["time_ratio"]["median"])
    assert column("Point") == [r["key"] for r in by_time]
    # the page keeps a ratio's sort key to 6 decimals
    assert [float(v) for v in column("Time ratio")] == [round(r["time_ratio"]["median"], 6) for r in by_time]
    click_header("Time ratio")
    assert column("Point") == [r["key"] for r in reversed(by_time)]
    click_header("Point")
    assert column("Point") == sorted(r["key"] for r in records)
    click_header("#")
    assert column("Point") == [r["key"] for r in records]
    shot = browser.screenshot(tmp_path / "study.png")
    assert shot.read_bytes().startswith(PNG_SIGNATURE)
    assert browser.errors() == []

    # the same command again: every point is done, nothing is measured, the page shows the same points
    capsys.readouterr()
    again = tmp_path / "again.html"
    assert main(["study", "sepconv", "--points", str(points), "-o", str(folder), "--html", str(again)]) == 0
    assert "3 point(s) already done" in capsys.readouterr().err
    assert json.loads((folder / "results.json").read_text())["records"] == records

    def points_section(html_text: str) -> str:
        return html_text[html_text.index('<section id="points">'):html_text.index('<section id="warnings">')]

    assert points_section(again.read_text(encoding="utf-8")) == points_section(text)
    # and flopbench report of the results file: the same points, and where they came from
    from_results = tmp_path / "from-results.html"
    assert main(["report", str(folder / "results.json"), "-o", str(from_results)]) == 0
    rendered = from_results.read_text(encoding="utf-8")
    assert points_section(rendered) == points_section(text)
    assert f"Rendered from: <code>{folder / 'results.json'}</code>" in rendered and "3 of 3 points" in rendered


def test_the_page_shows_each_layers_predicted_time_beside_its_measured_one(browser, write_residual_block, roofline_cache, tmp_path):
    """A profile made with a calibration (the recorded one) shows, per layer, the time the calibrated
    model predicts beside the measured one: the same times `predict` gives from the compiled graph
    without running; a profile without one says how to calibrate instead."""
    from flopbench.profiling.calibration import read_calibration
    from flopbench.profiling.predict import predict
    from flopbench.render.report import ReportContent, render_report

    model = write_residual_block(64, 28)
    calibration = read_calibration(Path(__file__).parent / "data" / "calibration_openvino_f32.json")
    profiled = flopbench.profile(model, "openvino", precision="f32", iterations=5, warmup=1, roofline=roofline_cache["openvino"],
                                 calibration=calibration)
    page = tmp_path / "predicted.html"
    page.write_text(render_report(ReportContent(cost=flopbench.count(model), profiles=(profiled,))), encoding="utf-8")
    browser.open(page)
    assert browser.errors() == []
    heads = browser.evaluate("Array.from(document.querySelectorAll('#layer-table thead th')).map(th => th.textContent)")
    measured_at, predicted_at = heads.index("openvino µs"), heads.index("openvino predicted µs")
    assert predicted_at == measured_at + 1
    cells = browser.evaluate("""Array.from(document.querySelectorAll('#layer-table tbody tr')).map(
        tr => Array.from(tr.cells).map(td => td.textContent))""")
    shown = {row[1]: (row[measured_at], row[predicted_at]) for row in cells}
    measured = {row.name: row for row in profiled.layers}
    for layer in predict(model, "openvino", precision="f32", calibration=calibration).layers:
        time_cell, predicted_cell = shown[layer.name]
        assert time_cell == f"{measured[layer.name].time_us:,.1f}"
        assert predicted_cell.removesuffix(" !") == f"{layer.predicted_time_us:,.1f}"
    assert "predicted µs: what this machine's calibrated model" in browser.evaluate("document.querySelector('#layers .note').textContent")
    plain = flopbench.profile(model, "openvino", precision="f32", iterations=5, warmup=1, roofline=roofline_cache["openvino"])
    if any(row.predicted_time_us is not None for row in plain.layers):
        pytest.skip("this machine has a calibration cached for OpenVINO f32: no page without predictions to check")
    text = render_report(ReportContent(cost=flopbench.count(model), profiles=(plain,)))
    assert "openvino predicted µs" not in text and "flopbench predict --calibrate --engine openvino" in text


def repeated_count(document: dict, layers: int) -> dict:
    """A count of `layers` layers: the real layers of `document` again and again, each copy's
    layers, parts and ops renamed b<copy>/<name> (its memory walk left out, as a count of a model
    that could not be walked has none). The copies share their unrenamed values: the document is
    only written out as JSON."""
    ops = {op["name"]: op for op in document["ops"]}
    made_layers, made_ops = [], []

    def renamed(layer: dict, copy_index: int) -> dict:
        layer = {**layer, "name": f"b{copy_index}/{layer['name']}", "ops": [f"b{copy_index}/{name}" for name in layer["ops"]]}
        layer["parts"] = [renamed(part, copy_index) for part in layer["parts"]]
        return layer

    copy_index = 0
    while len(made_layers) < layers:
        for layer in document["layers"][:layers - len(made_layers)]:
            made_layers.append(renamed(layer, copy_index))
            for name in layer["ops"]:
                op = ops[name]
                made_ops.append({**op, "name": f"b{copy_index}/{name}", "layer": f"b{copy_index}/{op['layer']}"})
        copy_index += 1
    return {**document, "layers": made_layers, "ops": made_ops, "memory": None}


@pytest.fixture(scope="module")
def page_of_10000_layers(sep_cnn_xml, tmp_path_factory):
    """`report` of a count JSON of 10,000 layers of unequal size (so which are shown depends on their
    work, not on their order), made once for the tests that read its page: the document, its ops
    by name, and the page."""
    import json

    document = repeated_count(flopbench.count(sep_cnn_xml).to_dict(), 10_000)
    ops = {op["name"]: op for op in document["ops"]}
    for index, layer in enumerate(document["layers"]):
        ops[layer["ops"][0]]["macs"] += index
    folder = tmp_path_factory.mktemp("page-of-10000-layers")
    counted = folder / "count.json"
    counted.write_text(json.dumps(document))
    page = folder / "page.html"
    assert main(["report", str(counted), "-o", str(page)]) == 0
    return document, ops, page.read_text()


def _summed(ops: dict, layer: dict, key: str) -> int:
    return sum(ops[name][key] for name in layer["ops"])


def test_a_count_of_10000_layers_makes_a_page_of_its_largest_layers(page_of_10000_layers):
    """report of a count JSON of 10,000 layers (a page with a bar and a row per layer took minutes
    and hundreds of MB): the chart shows the 199 leaves with the most FLOPs and one bar for the rest,
    the table the 1,000 layers with the most FLOPs, and each says how many it folded or left out."""
    document, ops, html = page_of_10000_layers
    # the truths from the document as written, not loaded again (reading 10,000 layers back is what report does)
    layers = document["layers"]
    assert len(layers) == 10_000 and not document["include_other_flops"]
    leaves = sum(len(layer["parts"]) or 1 for layer in layers)
    assert f"other {leaves - 199:,} layers" in html
    assert f"the other {leaves - 199:,} are one bar" in html
    assert "Shown: the 1,000 layers with the most FLOPs" in html and "the other 9,000 layers are one row under them" in html
    assert html.count('<tr class="layer') == 1000
    # the largest layer is shown; the smallest is not
    work = lambda layer: _summed(ops, layer, "macs")  # noqa: E731
    assert f">{max(layers, key=work)['name']}<" in html and f">{min(layers, key=work)['name']}<" not in html


def test_a_count_of_10000_layers_accounts_for_every_layer_on_its_page(page_of_10000_layers):
    """Of a page that shows the largest layers only, nothing is lost: the table's rows and its row
    of the layers left out add up, column by column, to sums made here from the JSON's ops, and
    the chart's bar of the folded layers has the share of the FLOPs the 199 bars shown leave."""
    document, ops, html = page_of_10000_layers

    def summed(layer: dict, key: str) -> int:
        return _summed(ops, layer, key)

    def cell(row: str, index: int) -> int:
        return int(re.findall(r'<td(?: data-v="([^"]*)")?>', row)[index] or 0)

    shown = re.findall(r'<tr class="layer[^"]*">(.*?)</tr>', html)
    rest = re.search(r'<tr class="rest">(.*?)</tr>', html)
    assert len(shown) == 1000 and rest, "the table shows 1,000 layers and one row for the other 9,000"
    assert ">other 9,000 layers<" in rest.group(1)
    heads = [name for name, _ in LAYER_HEADS]
    for head, key, factor in (("MACs", "macs", 1), ("FLOPs", "macs", 2), ("Params", "params", 1)):
        where = heads.index(head)
        on_page = sum(cell(row, where) for row in shown) + cell(rest.group(1), where)
        assert on_page == factor * sum(summed(layer, key) for layer in document["layers"]), head
    # the chart: the 199 largest leaves (a separable layer's parts), then one bar for the rest
    leaves = [leaf for layer in document["layers"] for leaf in (layer["parts"] or [layer])]
    work = sorted((2 * summed(leaf, "macs") for leaf in leaves), reverse=True)
    folded = re.search(r"<title>other ([\d,]+) layers: ([\d.]+)% together", html)
    assert folded and folded.group(1) == f"{len(leaves) - 199:,}"
    assert float(folded.group(2)) == pytest.approx(100.0 * sum(work[199:]) / sum(work), abs=0.051)
    assert len(re.findall(r"<title>[^<]*: [\d,]+ FLOPs, [\d.]+% of the model</title>", html)) == 199
