"""`footfall report`: gold through the newest publication, read with delta-rs, as one offline HTML page. No Spark."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from shapely.geometry import MultiPolygon, Polygon, box, shape
from tests.report_fixture import (
    DATES,
    EXPECTED_PEAK,
    MISSING_HOUR,
    NULL_HOUR,
    OLD_PEAK,
    PEAK,
    PUBLISHED,
    UNPUBLISHED,
    UNRESOLVABLE,
    WITHHELD,
    ZONE_IDS,
    K,
    build_lakehouse,
    hourly_rows,
    publish_expected_visitors,
    zone_shapes,
)

from footfall import schemas as S
from footfall.report import charts as C
from footfall.report.gold_reader import read_publication, read_published_table
from footfall.report.html import parse_period, write_report


@pytest.fixture(scope="module")
def lakehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the tiny lakehouse of tests/report_fixture.py, built once for the module (read-only)."""
    return build_lakehouse(tmp_path_factory.mktemp("report") / "lakehouse")


@pytest.fixture(scope="module")
def page(lakehouse: Path) -> str:
    """Return the default report of the tiny lakehouse."""
    return write_report(lakehouse, lakehouse.parent / "report.html").read_text(encoding="utf-8")


def _section(page: str, zone_id: str) -> str:
    match = re.search(rf'<section id="zone-{zone_id}".*?</section>', page, flags=re.S)
    assert match, f"no section for {zone_id}"
    return match.group(0)


def _svg_texts(markup: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", markup)]


def _aria_labels(markup: str) -> list[str]:
    return [html.unescape(a) for a in re.findall(r'aria-label="([^"]*)"', markup)]


def _map_svg(page: str) -> str:
    match = re.search(r'<div class="map">(.*?)</div>', page, flags=re.S)
    assert match, "no map"
    return match.group(1)


def test_the_page_is_self_contained(page: str) -> None:
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    assert "<img" not in page.lower() and not re.search(r"url\((?!#)", page)  # url(#id): a gradient in the page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "ids are global to a page: two SVGs must not share one"
    # inline SVG needs no namespace declaration: the report drops them, so the page holds no URL at all
    assert not re.search(r"https?://", page), re.findall(r".{40}https?://.{40}", page)
    assert page.count("<svg") == 1 + 6  # the map and Z01's six charts (flows are withheld)
    assert "default-src 'none'" in page


def test_the_header_shows_the_newest_publication(page: str) -> None:
    assert "sequence 2, published 2026-03-09 04:02:00+00:00" in page
    # k comes from the commit of the hourly version the publication names, not from sequence 1's (k 25)
    assert f"<td>k</td><td>{K}</td>" in page
    assert "cafe0123" in page and "0.1.0" in page and ", ".join(DATES) in page


def test_a_published_number_is_svg_text(page: str) -> None:
    texts = _svg_texts(_section(page, PUBLISHED))
    assert f"peak {PEAK}" in texts
    assert "N 75" in texts  # the rose: 40 + 35 visitor-days from the north
    assert {"210", "26"} <= set(texts)  # repeat visits


def test_only_the_published_versions_are_read(page: str, lakehouse: Path) -> None:
    texts = _svg_texts(page) + _aria_labels(page)
    # hourly version 2 (no publication names it) gave Z02 999 visitors; version 0 (publication 1) had peak 137
    assert not any(str(UNPUBLISHED) in t for t in texts)
    assert not any(str(OLD_PEAK) in t for t in texts)
    publication = read_publication(lakehouse)
    assert publication[S.SEQUENCE] == 2 and publication[S.TABLE_VERSIONS][S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE] == 1
    hourly = read_published_table(lakehouse, S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE, publication=publication)
    assert set(hourly[S.ZONE_ID]) == {PUBLISHED} and hourly[S.VISITORS].max() == PEAK


def test_a_withheld_zone_shows_its_label_and_no_chart(page: str) -> None:
    section = _section(page, WITHHELD)
    assert f"withheld: fewer than {K} people" in section
    assert "<svg" not in section


def test_a_zone_its_cells_cannot_resolve_shows_its_score(page: str) -> None:
    section = _section(page, UNRESOLVABLE)
    assert "not resolvable: resolution score 0.06 &lt; 0.5" in section
    assert "<svg" not in section


def test_withheld_hours_are_never_drawn_as_zero(page: str) -> None:
    labels = _aria_labels(_section(page, PUBLISHED))
    points = [a for a in labels if re.match(r"\d{4}-\d\d-\d\d \d\d:00: ", a)]
    assert len(points) == 2 * 10 - 2  # 9-18 h on two dates, but the missing and the null hour
    for date, hour in (MISSING_HOUR, NULL_HOUR):
        assert not any(p.startswith(f"{date} {hour:02d}:00") for p in points)
    assert not any(p.endswith(": 0 visitors") for p in points)


def test_the_hourly_lines_break_at_withheld_hours() -> None:
    chart = C.hourly_chart(pd.DataFrame(hourly_rows(peak=PEAK)), dates=DATES, k=K).to_dict(validate=False)
    line = next(layer for layer in chart["layer"] if layer["mark"].get("type", layer["mark"]) == "line")
    values = line["data"]["values"]
    assert all(v[S.VISITORS] is not None for v in values)
    date, hour = MISSING_HOUR
    before = next(v["segment"] for v in values if (v[S.DATE], v[S.HOUR]) == (date, hour - 1))
    after = next(v["segment"] for v in values if (v[S.DATE], v[S.HOUR]) == (date, hour + 1))
    assert before != after
    grid = C.hourly_grid(pd.DataFrame(hourly_rows(peak=PEAK)), dates=DATES)
    withheld = grid[grid[S.VISITORS].isna()]
    assert {MISSING_HOUR, NULL_HOUR} <= set(zip(withheld[S.DATE], withheld[S.HOUR], strict=True))
    assert len(withheld) == 2 * 24 - 18 and (grid[S.VISITORS].dropna() > 0).all()


def test_the_map_has_one_shape_per_zone(page: str) -> None:
    labels = _aria_labels(_map_svg(page))
    zones = [a for a in labels if a.startswith("zone ")]
    assert sorted(a.split()[1] for a in zones) == sorted(ZONE_IDS)
    assert f"zone {PUBLISHED} Galerie: peak {PEAK} visitors per hour" in zones
    assert f"zone {WITHHELD} Arkaden: withheld: fewer than {K} people" in zones
    assert len([a for a in labels if a.startswith("district ")]) == 2
    assert [a for a in labels if a.startswith("catchment ")] == [
        "catchment D01 District 1: 45 visitor-days",
        "catchment D02 District 2: 28 visitor-days",
    ]


def test_rings_are_clockwise_after_orientation() -> None:
    with_hole = Polygon(box(0, 0, 4, 4).exterior.coords, [box(1, 1, 2, 2).exterior.coords])
    assert with_hole.exterior.is_ccw
    oriented = C.vega_oriented(with_hole)
    assert isinstance(oriented, Polygon)
    assert not oriented.exterior.is_ccw and oriented.interiors[0].is_ccw
    multi = C.vega_oriented(zone_shapes()[PUBLISHED])
    assert isinstance(multi, MultiPolygon) and not any(p.exterior.is_ccw for p in multi.geoms)


def test_the_map_features_are_clockwise(lakehouse: Path) -> None:
    zones = pd.DataFrame({S.ZONE_ID: list(zone_shapes()), "geometry": list(zone_shapes().values())})
    features = C.features(zones).to_dict()["values"]
    polygons = [p for f in features for p in getattr(shape(f["geometry"]), "geoms", [shape(f["geometry"])])]
    assert len(polygons) == 4 and not any(p.exterior.is_ccw for p in polygons)


def test_zone_and_dates_narrow_the_report(lakehouse: Path, tmp_path: Path) -> None:
    page = write_report(lakehouse, tmp_path / "r.html", zone=PUBLISHED, start=DATES[1]).read_text(encoding="utf-8")
    assert re.findall(r'<section id="zone-(\w+)"', page) == [PUBLISHED]
    assert len([a for a in _aria_labels(_map_svg(page)) if a.startswith("zone ")]) == len(ZONE_IDS)
    points = [a for a in _aria_labels(_section(page, PUBLISHED)) if re.match(r"\d{4}-", a)]
    assert points and all(p.startswith(DATES[1]) for p in points)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-3-7", None, "--start '2026-3-7' is not a date YYYY-MM-DD"),
        ("2026-03-08", "2026-03-07", "--end 2026-03-07 is before --start 2026-03-08"),
        (None, "2026-03-07", "--end needs --start"),
        ("2026-04-01", None, "no publication covers 2026-04-01 to 2026-04-01; gold holds 2026-03-07 to 2026-03-08"),
    ],
)
def test_bad_periods_are_refused(start: str | None, end: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_period(start, end, covered=list(DATES))


def test_an_unknown_zone_is_refused(lakehouse: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown zone 'Z99'"):
        write_report(lakehouse, tmp_path / "r.html", zone="Z99")


def test_flows_show_both_ways_and_sum_the_dates() -> None:
    flows = pd.DataFrame(
        {
            S.FROM_ZONE_ID: ["Z01", "Z01", "Z02"],
            S.TO_ZONE_ID: ["Z02", "Z02", "Z01"],
            S.DATE: ["2026-03-07", "2026-03-08", "2026-03-07"],
            S.TRAVELLERS: [21, 22, 30],
        }
    )
    values = C.flows_chart(flows, zone_id="Z01", names={"Z02": "Arkaden"}).to_dict(validate=False)["layer"][0]
    rows = {(v["label"], v[S.TRAVELLERS]) for v in values["data"]["values"]}
    assert rows == {("next visit in Z02 Arkaden", 43), ("came from Z02 Arkaden", 30)}


def _env_without_java(tmp_path: Path) -> dict[str, str]:
    """Return an environment in which starting a JVM must fail: no java on PATH, JAVA_HOME nowhere."""
    return {
        "PATH": str(Path(sys.executable).parent),
        "JAVA_HOME": str(tmp_path / "no-java"),
        "HOME": str(tmp_path),
        "TZ": "UTC",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }


def test_the_report_needs_neither_spark_nor_java(lakehouse: Path, tmp_path: Path) -> None:
    # in a fresh process: the test process may hold a session of another test file
    script = (
        "import json, sys\n"
        "from footfall.cli import main\n"
        "try:\n"
        "    main(['report', '--lakehouse', sys.argv[1], '--out', sys.argv[2]])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "from pyspark import SparkContext\n"
        "from pyspark.sql import SparkSession\n"
        "print(json.dumps([SparkSession._instantiatedSession is None, SparkContext._gateway is None]))\n"
    )
    out = tmp_path / "r.html"
    done = subprocess.run(
        [sys.executable, "-c", script, str(lakehouse), str(out)],
        capture_output=True,
        text=True,
        env=_env_without_java(tmp_path),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == str(out) and json.loads(done.stdout.splitlines()[-1]) == [True, True]
    assert f"peak {PEAK}" in out.read_text(encoding="utf-8")


def test_a_lakehouse_without_gold_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "lakehouse" / "silver").mkdir(parents=True)
    cli = Path(sys.executable).parent / "footfall"
    done = subprocess.run(
        [str(cli), "report", "--lakehouse", str(tmp_path / "lakehouse"), "--out", str(tmp_path / "r.html")],
        capture_output=True,
        text=True,
        env=_env_without_java(tmp_path),
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("footfall: no publication yet in"), done.stderr
    assert not (tmp_path / "r.html").exists()


def test_expected_visitors_replace_the_not_resolvable_label_with_their_curve(tmp_path: Path) -> None:
    """A zone the cells cannot resolve that gold publishes as expected visitors shows their hourly curve (and its
    peak), not "not resolvable"; a withheld hour of it is not drawn as 0. Before publication 3 it showed the label."""
    lakehouse = build_lakehouse(tmp_path / "lakehouse")
    before = _section(write_report(lakehouse, tmp_path / "before.html").read_text(encoding="utf-8"), UNRESOLVABLE)
    assert "not resolvable" in before
    publish_expected_visitors(lakehouse)
    section = _section(write_report(lakehouse, tmp_path / "after.html").read_text(encoding="utf-8"), UNRESOLVABLE)
    assert "not resolvable" not in section
    assert "Expected visitors per local hour" in section
    assert "Expected visitors: its cells cannot count" in section and "these counts may be far off" not in section
    assert f'peak hourly visitors: <b class="published">{EXPECTED_PEAK}</b>' in section
    labels = " | ".join(_aria_labels(section))
    assert f"2026-03-07 11:00: {EXPECTED_PEAK} visitors" in labels
    assert "2026-03-07 12:00: 44 visitors" in labels
    assert "2026-03-07 13:00" not in labels  # withheld: no point, and no 0


def test_the_header_lists_the_inputs_accepted_with_a_change(page: str, lakehouse: Path, tmp_path: Path) -> None:
    """A repaired polygon and a date ingested past a guard are changes to what was sent: the header says so
    (issue 34). The default lakehouse has neither, and says that too."""
    import datetime as dt
    import shutil

    from shapely.geometry import box as a_box
    from tests.report_fixture import _write

    assert "none: every input was used as sent" in page and "nothing past the privacy promise" in page
    changed = tmp_path / "lakehouse"
    shutil.copytree(lakehouse, changed)
    district = {S.DISTRICT_ID: "D02", S.NAME: "District 2", S.RESIDENTS: 100, S.AREA_M2: 1.0, S.IS_REPAIRED: True}
    district |= {
        S.INVALID_REASON: "Self-intersection[10.01 48.0]",
        S.GEOMETRY_WKB: a_box(10.008, 47.99, 10.03, 48.02).wkb,
    }
    _write(changed / S.SILVER / S.SILVER_DISTRICTS_TABLE, [district], S.SILVER_DISTRICTS)
    breach = "2026-03-07: 90.0% of 10 rows read quarantined or dropped (most: unknown_cell 9), above the line"
    audit = [
        {S.EVENT_DATE: dt.date.fromisoformat(day), S.RUN_ID: "r", S.RUN_AT: dt.datetime(2026, 3, 9), S.ROWS_READ: 10,
         S.ROWS_SILVER: 1, S.ROWS_QUARANTINED: 9, S.ROWS_OPTED_OUT: 0, S.ROWS_MINOR: 0, S.ROWS_BY_REASON: [],
         S.ACCEPTED_BREACH: text}
        for day, text in ((DATES[0], breach), ("2026-01-01", "a date outside the report"))
    ]  # fmt: skip
    _write(changed / S.SILVER / S.SILVER_INGEST_AUDIT_TABLE, audit, S.SILVER_INGEST_AUDIT)
    header = write_report(changed, tmp_path / "r.html").read_text(encoding="utf-8").split("<h2>")[0]
    assert f"{S.SILVER_DISTRICTS_TABLE} D02: geometry repaired (Self-intersection[10.01 48.0])" in header
    assert f"ingested past a guard (--accept-quarantine): {breach}" in header
    assert "a date outside the report" not in header and "none: every input was used as sent" not in header
