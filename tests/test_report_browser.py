"""The report page in a real headless Chromium: no console errors, matrix and plots visible.

A probe copy of the page gets a small script that records every error (script errors,
failed resource loads, console.error) and measures the matrix and each plot after the
load event, then writes its findings into the DOM, which Chromium dumps. The untouched
page is also screenshotted into test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from distlab.report.html import build_report

CHROMIUM = next(
    (
        shutil.which(name)
        for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
        if shutil.which(name)
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not found (Debian: apt-get install chromium)"
)
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

# Runs before anything else on the page; reports after the load event.
PROBE = """<script>
window.__probeErrors = [];
window.addEventListener("error", function (ev) {
  var t = ev.target;
  window.__probeErrors.push(ev.message || ("failed to load " + String(t && (t.src || t.href)).slice(0, 200)));
}, true);
window.addEventListener("unhandledrejection", function (ev) {
  window.__probeErrors.push("unhandled rejection: " + ev.reason);
});
var __probeConsoleError = console.error;
console.error = function () {
  window.__probeErrors.push(Array.prototype.join.call(arguments, " "));
  __probeConsoleError.apply(console, arguments);
};
function __probeBox(el) {
  var r = el.getBoundingClientRect(), s = getComputedStyle(el);
  return {width: r.width, height: r.height,
          visible: s.display !== "none" && s.visibility !== "hidden" && s.opacity !== "0"};
}
window.addEventListener("load", function () {
  var matrix = document.getElementById("matrix");
  var out = {
    errors: window.__probeErrors,
    matrix: matrix ? __probeBox(matrix) : null,
    matrixRows: matrix ? matrix.tBodies[0].rows.length : 0,
    plots: Array.prototype.map.call(document.querySelectorAll("img.plot"), function (img) {
      var box = __probeBox(img);
      box.alt = img.alt; box.complete = img.complete; box.naturalWidth = img.naturalWidth;
      return box;
    }),
    findings: document.querySelectorAll("#recommendations li").length,
    resources: performance.getEntriesByType("resource").map(function (r) { return r.name; })
  };
  var pre = document.createElement("pre");
  pre.id = "probe-result";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # tests run as root in CI containers
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        *args,
        page.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def console_lines(stderr: str) -> list[str]:
    """Chromium logs each console message of the page as a CONSOLE line on stderr."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run")
    res = subprocess.run(
        [sys.executable, "-m", "distlab.cli", "run", "--engines", "local",
         "--workloads", "squares,numbers", "--size", "tiny", "--out", str(run)],
        capture_output=True, text=True, timeout=180,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    return build_report(run, tmp_path_factory.mktemp("report"))


def test_page_renders_without_errors_with_matrix_and_plots_visible(report, tmp_path):
    probe_page = report.with_name("probe.html")
    probe_page.write_text(report.read_text().replace("<head>", "<head>" + PROBE, 1))
    res = chromium(probe_page, tmp_path / "profile", "--dump-dom")
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', res.stdout, re.S)
    assert found, f"the probe did not report; chromium said:\n{res.stderr[-2000:]}"
    probe = json.loads(
        found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    )

    assert probe["errors"] == []
    assert console_lines(res.stderr) == []
    assert not [r for r in probe["resources"] if r.startswith(("http:", "https:"))]

    assert probe["matrix"]["visible"] and probe["matrix"]["width"] > 300
    assert probe["matrix"]["height"] > 50
    assert probe["matrixRows"] == 3  # squares, numbers (batched), numbers (per_element)
    plot_files = sorted((report.parent / "plots").glob("*.png"))
    assert len(probe["plots"]) == len(plot_files) >= 6
    for plot in probe["plots"]:
        assert plot["complete"] and plot["naturalWidth"] > 0, plot
        assert plot["visible"] and plot["width"] > 200 and plot["height"] > 150, plot
    assert probe["findings"] >= 3


def test_screenshot_of_the_page(report, tmp_path):
    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    res = chromium(report, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,6000")
    assert shot.exists(), res.stderr[-2000:]
    assert console_lines(res.stderr) == []
    with Image.open(shot) as img:
        assert img.size == (1280, 6000)
        grey = img.convert("L")
        # a rendered page: text, tables and plots, not a blank or single-colour canvas
        dark = sum(grey.histogram()[:128])
        assert dark > 0.005 * 1280 * 6000, f"only {dark} dark pixels"
        top = grey.crop((0, 0, 1280, 120))
        assert top.getextrema()[0] < 80  # the title is drawn at the top
