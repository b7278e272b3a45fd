"""`footfall report` in a real browser: headless Chromium renders the page, and what it shows is checked."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
from matplotlib import image
from tests.report_fixture import PEAK, PUBLISHED, ZONE_IDS, build_lakehouse

from footfall.report import write_report


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    chromium = shutil.which("chromium")
    assert chromium, "install chromium (apt-get install -y chromium); .ci/run does"
    # its own profile folder: two test processes (or a user's browser) must not share one
    flags = ["--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}", "--window-size=1400,3000"]
    done = subprocess.run([chromium, *flags, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_chromium_renders_the_report(tmp_path: Path) -> None:
    report = write_report(build_lakehouse(tmp_path / "lakehouse"), tmp_path / "report.html")
    url = report.resolve().as_uri()
    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", url, profile=tmp_path / "profile")
    dom = _chromium("--dump-dom", url, profile=tmp_path / "profile").stdout

    pixels = image.imread(shot)[..., :3]  # floats 0-1
    assert pixels.shape[:2] == (3000, 1400)
    ink = (pixels < 0.9).any(axis=2).mean()
    rgb = (pixels * 255).astype(np.uint32)
    colours = len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]))
    colourful = (pixels.max(axis=2) - pixels.min(axis=2) > 0.3).mean()  # chart colours, not text's greys
    # a blank page, or text without charts, fails one of these
    assert ink > 0.05, f"only {ink:.1%} of the page is not white"
    assert colours > 50, f"only {colours} distinct colours"
    assert 0.01 < colourful < 0.5, f"{colourful:.1%} of the page in chart colours"

    zones = [html.unescape(a) for a in re.findall(r'aria-label="(zone [^"]*)"', dom)]
    assert sorted(a.split()[1] for a in zones) == sorted(ZONE_IDS)
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", dom)]
    assert f"peak {PEAK}" in texts and f"{PUBLISHED} {PEAK}" in texts  # the hourly chart and the map label
