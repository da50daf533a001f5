"""The report in a real browser: headless Chromium (Debian's package) draws every chart.

The test set-up installs it (scripts/install_chromium.sh). Without it the test is skipped on a
developer machine and fails in CI, where the browser check must really run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import html as lxml_html

from hub.report_html import render

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHARTS = {"scores", "score-trend", "alerts-by-type", "alerts-over-time", "genealogy", "pipeline"}


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium not installed: the test set-up must run scripts/install_chromium.sh")
        pytest.skip("chromium not installed (scripts/install_chromium.sh)")
    return CHROMIUM


def run_chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def sample_data():
    """The hand-made data of test_report_html.py (every section, a hostile supplier name)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("report_html_cases", Path(__file__).with_name("test_report_html.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.sample_data()


@pytest.fixture(scope="module")
def report_page(tmp_path_factory) -> Path:
    page = tmp_path_factory.mktemp("report") / "index.html"
    page.write_text(render(sample_data()), encoding="utf-8")
    return page


def test_chromium_draws_every_chart_and_runs_nothing_from_the_data(chromium: str, report_page: Path, tmp_path: Path):
    out = run_chromium(chromium, tmp_path / "profile", "--dump-dom", report_page.as_uri())
    assert out.returncode == 0, out.stderr[-2000:]
    dom = lxml_html.fromstring(out.stdout)
    figures = dom.xpath('//figure[@class="chart"]')
    assert {f.get("data-chart") for f in figures} == CHARTS
    for figure in figures:
        svg = figure.xpath('.//*[local-name()="svg"]')
        assert len(svg) == 1, figure.get("data-chart")
        drawn = [p for p in svg[0].xpath('.//*[local-name()="path"]') if len((p.get("d") or "").strip()) > 10]
        # axes, bars, lines and markers are paths: a chart with few of them drew nothing
        assert len(drawn) >= 5, figure.get("data-chart")
    # the hostile supplier name stayed text: no element was made of it
    assert dom.xpath("//img") == [] and dom.xpath("//script") == []
    assert "<img src=x onerror=alert(1)>$x$" in dom.text_content()


def test_chromium_screenshot_of_the_report_is_a_real_picture(chromium: str, report_page: Path, tmp_path: Path):
    from matplotlib import image

    shot_dir = Path(os.environ.get("HUB_VAR_DIR", REPO / "var")) / "screenshots"
    shot_dir.mkdir(parents=True, exist_ok=True)
    shot = shot_dir / "report.png"
    shot.unlink(missing_ok=True)
    out = run_chromium(chromium, tmp_path / "profile", "--window-size=1200,3000", f"--screenshot={shot}",
                       report_page.as_uri())
    assert out.returncode == 0, out.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(shot)
    assert pixels.shape[:2] == (3000, 1200)
    # bars, lines and text: a good share of the page is not background white
    not_white = (pixels[:, :, :3].min(axis=2) < 0.9).mean()
    assert not_white > 0.03, not_white
    # and there is colour (the charts), not only black text
    saturated = (pixels[:, :, :3].max(axis=2) - pixels[:, :, :3].min(axis=2) > 0.3).mean()
    assert saturated > 0.01, saturated
