"""The report of a tiny real campaign (two potentials, real LAMMPS, real MPI) opened in headless Chromium.

At 1280 px the page must not scroll sideways, every image must load, the console must stay clean, the visible
text must hold no None/nan and no raw JSON, and the scorecard must list every potential; over HTTP the CSV
links must resolve; printing must give a PDF. Screenshots are kept (the paths are printed) and, when
HARNESS_ARTIFACTS is set, copied there. HARNESS_REPORT_CAMPAIGN=DIR checks the report of an analysed campaign
instead (e.g. the default one). Without Chromium the tests skip (bash scripts/setup-browser.sh
installs it); with CI=true they fail instead.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

from chromium_cdp import Chromium, find_chromium
from harness_testlib import REPO, harness, tiny_campaign

WIDTH = 1280
# The tests' tiny campaign (tests/harness/harness_testlib.py) with two potentials, long enough conductivity runs
# for an Arrhenius fit, the force errors and the formation end-point Li2S beside Li7P3S11.
CAMPAIGN = tiny_campaign(name="browser-check", potentials=("lips-snap", "toy-morse"), seed=11, restart_every_ps=0.05,
                         conductivity_duration_ps=0.5, structures=("Li2S", "Li7P3S11"), single_point=(),
                         forces_reference=REPO / "inputs" / "reference" / "li7p3s11_meltquench_chgnet.extxyz")
# A run that fails for real (non-finite energy) so that the report has a failure to summarise.
BLOW_UP = "variable huge equal exp(800)\nfix blowup all addforce v_huge 0.0 0.0\n"
FAILING_RUN = "t4-robustness-toy-morse-T1000-p1e9-r1"


def _chromium() -> str:
    executable = find_chromium()
    if executable is None:
        why = "headless Chromium not found (bash scripts/setup-browser.sh installs Debian's chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}; CI=true: the browser test must run")
        pytest.skip(why)
    return executable


def _harness(*args: str, mpi: int = 0) -> None:
    done = harness(*args, timeout=600, mpi=mpi)
    assert done.returncode == 0, done.stdout + done.stderr


def _inject(campaign: Path, run_id: str, commands: str) -> None:
    """LAMMPS commands before the first `run` of a rendered input (fault injection)."""
    path = campaign / "runs" / run_id / "in.lammps"
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("run ") or line.startswith('if "$(step)'))
    lines[index:index] = commands.splitlines()
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """render -> mpirun -n 2 launch -> analyze -> report of the two-potential campaign; report/index.html.
    With HARNESS_REPORT_CAMPAIGN=DIR (an analysed campaign, e.g. the default one) that campaign's report instead."""
    given = os.environ.get("HARNESS_REPORT_CAMPAIGN")
    if given:
        _harness("report", given)
        return Path(given).resolve() / "report" / "index.html"
    folder = tmp_path_factory.mktemp("browser")
    (folder / "campaign.toml").write_text(CAMPAIGN)
    campaign = folder / "campaign"
    _harness("render", str(folder / "campaign.toml"), "--out", str(campaign))
    _inject(campaign, FAILING_RUN, BLOW_UP)
    _harness("launch", str(campaign), "--progress-every", "0", mpi=2)
    _harness("analyze", str(campaign))
    _harness("report", str(campaign))
    return campaign / "report" / "index.html"


@pytest.fixture(scope="module")
def browser():
    with Chromium(_chromium(), WIDTH) as chromium:
        yield chromium


def _artifacts(report: Path) -> Path:
    folder = report.parents[1] / "browser-artifacts"
    folder.mkdir(exist_ok=True)
    return folder


def _keep(path: Path, capsys) -> None:
    target = os.environ.get("HARNESS_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        path = Path(shutil.copy(path, Path(target) / path.name))
    with capsys.disabled():
        print(f"\n[report browser test] artifact: {path}")


VISIBLE_PROBLEMS = re.compile(r"\b(None|nan|NaN|null|undefined)\b|[{\[]\s*\"[^\"]*\"\s*:")


def test_report_in_chromium_at_1280_px(report, browser, capsys):
    browser.open(report.as_uri())
    width = browser.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways at {WIDTH} px: scrollWidth {width[0]} > {width[1]}"
    images = browser.evaluate("[...document.images].map(i => [i.alt, i.complete && i.naturalWidth > 0])")
    figures = list(report.parent.glob("*.png"))
    snapshots = list(report.parent.glob("snapshots/*.png"))
    assert len(images) == len(figures) + len(snapshots) and all(ok for _, ok in images), images
    assert len(figures) >= 4
    assert browser.log.errors == [], browser.log.errors
    outside = [u for u in browser.log.requests if not u.startswith(("file:", "data:", "about:"))]
    assert outside == [], f"the page made network requests: {outside}"
    text = browser.evaluate("document.body.innerText")
    assert not VISIBLE_PROBLEMS.findall(text), VISIBLE_PROBLEMS.findall(text)[:5]
    summary = json.loads((report.parents[1] / "results" / "summary.json").read_text())
    no_ovito = [n for n in summary["notes"] if n.startswith("OVITO snapshots not rendered")]
    if no_ovito and os.environ.get("CI") == "true":
        pytest.fail(f"{no_ovito[0]} (scripts/setup-browser.sh installs libvulkan1 and mesa-vulkan-drivers)")
    if not no_ovito:  # OVITO pictures of Task 4 for every potential, shown from report/snapshots/
        shown = browser.evaluate("[...document.querySelectorAll('#robustness .shot img')].map(i => i.alt)")
        assert {a.split(":")[0] for a in shown} == set(summary["potentials"]), shown
    listed = browser.evaluate("[...document.querySelectorAll('#scorecard tbody th')].map(e => e.innerText.trim())")
    assert sorted(listed) == sorted(summary["potentials"])
    if not os.environ.get("HARNESS_REPORT_CAMPAIGN"):
        assert listed == ["lips-snap", "toy-morse"]
        assert FAILING_RUN in [r["run_id"] for r in summary["failed_runs"]]
    # the scorecard comes first, and failures are summarised in words with a link to their table
    first = browser.evaluate("document.querySelector('main section').id")
    assert first == "scorecard"
    line = browser.evaluate("document.querySelector('#scorecard .runs-line').innerText")
    failed = summary["failed_runs"]
    assert f"{len(failed)} failed" in line and browser.evaluate("!!document.querySelector('#scorecard a[href=\"#runs\"]')")
    runs_text = browser.evaluate("document.querySelector('#runs').innerText")
    assert all(r["run_id"] in runs_text for r in failed)
    # wide tables scroll inside their own box, never the page
    boxes = browser.evaluate("[...document.querySelectorAll('table')].map(t => "
                             "[t.closest('.table-scroll') !== null, t.getBoundingClientRect().right])")
    assert all(inside for inside, _ in boxes)
    artifacts = _artifacts(report)
    _keep(browser.screenshot(artifacts / "report-1280.png"), capsys)
    _keep(browser.screenshot(artifacts / "report-1280-full.png", full_page=True), capsys)


def test_report_prints(report, browser, capsys):
    browser.open(report.as_uri())
    browser.page("Emulation.setEmulatedMedia", {"media": "print"})
    browser.set_width(720)  # A4 less the print margins, at 96 px per inch
    try:
        hidden = browser.evaluate("getComputedStyle(document.querySelector('nav')).display")
        width = browser.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        pdf = browser.pdf(_artifacts(report) / "report.pdf")
    finally:
        browser.page("Emulation.setEmulatedMedia", {"media": ""})
        browser.set_width(WIDTH)
    assert hidden == "none"
    assert width[0] <= width[1], f"the printed page is wider than A4: {width}"
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 50_000
    _keep(pdf, capsys)


@pytest.fixture()
def served(report):
    """The report folder behind a local web server (as anyone would publish it)."""
    handler = functools.partial(_QuietHandler, directory=str(report.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_report_from_a_web_server_with_working_csv_links(served, browser):
    before = len(browser.log.errors)
    browser.open(served)
    assert browser.log.errors[before:] == []
    assert browser.evaluate("[...document.images].every(i => i.naturalWidth > 0)")
    links = browser.evaluate("[...new Set([...document.querySelectorAll('a.csv')].map(a => a.href))]")
    assert any(link.endswith("/data/conductivity.csv") for link in links), links
    status = browser.evaluate("Promise.all([...new Set([...document.querySelectorAll('a.csv')].map(a => a.href))]"
                              ".map(h => fetch(h).then(r => [h, r.status])))")
    assert all(code == 200 for _, code in status), status
