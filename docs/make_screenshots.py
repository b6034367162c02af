"""The README's screenshots: real reports of the zoo's sep_cnn and mobilenet_v1 and the page of a
quick sepconv sweep, made by the same code path a user runs (`flopbench report MODEL ...`,
`flopbench study sepconv --quick --html ...` in a subprocess) and photographed in Debian's headless
Chromium.

    python docs/make_screenshots.py [-t 3] [--keep DIR] [--pages report,study]

Writes docs/report_sep_cnn.png, docs/report_mobilenet_v1.png and docs/study_sepconv.png: each whole
page (--top: only its first --height pixels).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the DevTools driver the report tests use

MODELS = {  # zoo name: (file, engines)
    "sep_cnn": ("sep_cnn.onnx", "openvino,onnxruntime"),
    "mobilenet_v1": ("mobilenet_v1.onnx", "openvino,onnxruntime"),
}


def _shrink(png: Path) -> None:
    """256 colours are plenty for a page of text and flat charts, at a third of the bytes
    (Pillow comes with matplotlib)."""
    from PIL import Image

    with Image.open(png) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(png, optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-t", type=float, default=3.0, help="measuring time per engine (s)")
    parser.add_argument("--keep", help="keep the models and pages in this folder")
    parser.add_argument("--top", action="store_true", help="photograph only the top of each page")
    parser.add_argument("--height", type=int, default=1500, help="height of the photographed top (CSS pixels)")
    parser.add_argument("--pages", default="report,study", help="which pages: report (the two models), study (the sweep)")
    args = parser.parse_args()
    wanted = {name.strip() for name in args.pages.split(",")}
    folder = Path(args.keep or tempfile.mkdtemp(prefix="flopbench-docs-"))
    folder.mkdir(parents=True, exist_ok=True)

    from chromium import Chromium

    pages = {}
    for name, (file, engines) in MODELS.items() if "report" in wanted else ():
        subprocess.run([sys.executable, "-m", "flopbench", "zoo", name, "-o", str(folder)], check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL)
        page = folder / f"{name}.html"
        # run from the models' folder so the page names the model as a user would type it
        subprocess.run([sys.executable, "-m", "flopbench", "report", file, "--engine", engines, "-t", str(args.t),
                        "--precision", "f32", "-o", page.name], check=True, cwd=folder)
        pages[f"report_{name}"] = page
    if "study" in wanted:
        page = folder / "sepconv.html"
        subprocess.run([sys.executable, "-m", "flopbench", "study", "sepconv", "--quick", "-o", "sepconv-quick",
                        "--html", page.name], check=True, cwd=folder, stdout=subprocess.DEVNULL)
        pages["study_sepconv"] = page
    with Chromium(width=1320, height=args.height) as browser:
        for name, page in pages.items():
            browser.open(page)
            errors = browser.errors()
            if errors:
                print(f"{page}: {errors}", file=sys.stderr)
                return 1
            shot = browser.screenshot(REPO / "docs" / f"{name}.png", full_page=not args.top)
            _shrink(shot)
            print(f"wrote {shot.relative_to(REPO)} from {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
