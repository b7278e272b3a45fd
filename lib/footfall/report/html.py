"""`footfall report`: one self-contained HTML page of the newest publication, with inline SVG charts.

No JavaScript and no URL: the charts are rendered to SVG here (vl-convert), the CSS is inline, and a
Content-Security-Policy forbids anything else, so the page shows the same offline, in a mail or an archive.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from importlib.resources import files
from pathlib import Path
from typing import Any

import altair as alt
import jinja2
import pandas as pd
import vl_convert as vlc
from markupsafe import Markup

from footfall import schemas as S
from footfall.report import charts as C
from footfall.report.gold_reader import (
    ALL_DATES,
    METADATA,
    read_district_shapes,
    read_input_changes,
    read_publication,
    read_published_table,
    read_zone_shapes,
)

# the Vega-Lite version Altair writes; vl-convert ships it
_VL_VERSION = alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0]
# an inline <svg> in HTML needs no namespace declarations; without them the page holds no URL at all
_NAMESPACES = re.compile(r' xmlns(:xlink)?="http://www\.w3\.org/(2000/svg|1999/xlink)"')
_IDS = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')
_DAILY = (
    S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE,
    S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE,
    S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE,
    S.GOLD_ZONE_CATCHMENT_DAILY_TABLE,
    S.GOLD_ZONE_FLOWS_DAILY_TABLE,
)


def render_svg(chart: alt.TopLevelMixin, *, key: str) -> Markup:
    """Return the chart as inline SVG markup (no namespace URLs, element ids prefixed with `key`)."""
    svg = _NAMESPACES.sub("", vlc.vegalite_to_svg(chart.to_dict(validate=False), vl_version=_VL_VERSION))
    # gradients and clip paths are referenced by id, and ids are global to the page: keep each SVG's its own
    svg = _IDS.sub(lambda m: f"{m.group(1)}{key}-{m.group(2)}", svg)
    return Markup(svg)


def parse_period(start: str | None, end: str | None, *, covered: Sequence[str]) -> list[str]:
    """Return the published dates (ISO) between start and end; every covered date when start is None."""

    def day(value: str, option: str) -> dt.date:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{option} {value!r} is not a date YYYY-MM-DD") from None

    if start is None:
        if end is not None:
            raise ValueError("--end needs --start")
        return list(covered)
    first = day(start, "--start")
    last = day(end, "--end") if end is not None else first
    if last < first:
        raise ValueError(f"--end {last} is before --start {first}")
    dates = [d for d in covered if first <= dt.date.fromisoformat(d) <= last]
    if not dates:
        held = f"{covered[0]} to {covered[-1]}" if covered else "no date"
        raise ValueError(f"no publication covers {first} to {last}; gold holds {held}")
    return dates


def min_resolution_score(zones_df: pd.DataFrame) -> float | None:
    """Return the config's default min_resolution_score when gold's is_resolvable agrees with it, else None."""
    from footfall.config import SpatialConfig  # pydantic and yaml only: no Spark

    threshold = float(SpatialConfig.model_fields["min_resolution_score"].default)
    agrees = (zones_df[S.RESOLUTION_SCORE] >= threshold) == zones_df[S.IS_RESOLVABLE]
    return threshold if bool(agrees.all()) else None


def zone_label(zone: Mapping[str, Any], *, has_numbers: bool, k: int | None, threshold: float | None) -> str | None:
    """Return why a zone shows no charts ("withheld: ..." or "not resolvable: ..."), or None when it has numbers."""
    if has_numbers:
        return None
    if not zone[S.IS_RESOLVABLE]:
        bar = f"< {threshold:g}" if threshold is not None else "below the run's min_resolution_score"
        return f"not resolvable: resolution score {zone[S.RESOLUTION_SCORE]:.2f} {bar}"
    return f"withheld: fewer than {k if k is not None else 'k'} people"


def _published(df: pd.DataFrame, column: str) -> pd.DataFrame:
    return df[df[column].notna()]


def _by_zone(df: pd.DataFrame, column: str = S.ZONE_ID) -> dict[str, pd.DataFrame]:
    return {str(z): g for z, g in df.groupby(column)}


def _read_gold(lakehouse: Path, publication: Mapping[str, Any], dates: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Return every gold table the report uses at the publication's versions, limited to the period."""
    gold = {t: read_published_table(lakehouse, t, publication=publication, partitions=dates) for t in _DAILY}
    weeks = {f"{y}-W{w:02d}" for y, w, _ in (dt.date.fromisoformat(d).isocalendar() for d in dates)}
    gold[S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE] = read_published_table(
        lakehouse, S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE, publication=publication, partitions=weeks
    )
    gold[S.GOLD_ZONES_TABLE] = read_published_table(lakehouse, S.GOLD_ZONES_TABLE, publication=publication)
    expected = S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE
    gold[expected] = (
        read_published_table(lakehouse, expected, publication=publication, partitions=dates)
        if expected in publication[S.TABLE_VERSIONS]
        else pd.DataFrame(columns=S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY.names)  # a publication from before the table
    )
    return gold


# the column that holds each gold table's published number (a zone with one has numbers)
_VALUE_COLUMN = {
    S.GOLD_ZONE_FLOWS_DAILY_TABLE: S.TRAVELLERS,
    S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE: S.VISITORS_EXPECTED,
}


def _expected_as_hourly(expected_df: pd.DataFrame) -> pd.DataFrame:
    """Return expected visitors in the hourly table's visitor column, so the hourly chart draws them."""
    return expected_df.rename(columns={S.VISITORS_EXPECTED: S.VISITORS})


def _zone_labels(zones_df: pd.DataFrame, gold: Mapping[str, pd.DataFrame], *, k: int | None) -> dict[str, str | None]:
    """Return each zone's label (withheld / not resolvable), None for zones with a published number in the period."""
    value = {
        t: _VALUE_COLUMN.get(t, S.VISITORS)
        for t in gold
        if t not in (S.GOLD_ZONES_TABLE, S.GOLD_ZONE_FLOWS_DAILY_TABLE)
    }
    numbers = {str(z) for t, c in value.items() for z in _published(gold[t], c)[S.ZONE_ID]}
    flows = _published(gold[S.GOLD_ZONE_FLOWS_DAILY_TABLE], S.TRAVELLERS)
    numbers |= set(map(str, flows[S.FROM_ZONE_ID])) | set(map(str, flows[S.TO_ZONE_ID]))
    threshold = min_resolution_score(zones_df)
    return {
        str(z[S.ZONE_ID]): zone_label(z, has_numbers=z[S.ZONE_ID] in numbers, k=k, threshold=threshold)
        for z in zones_df.to_dict("records")
    }


def _zone_panels(
    zone_id: str, by_zone: Mapping[str, Mapping[str, pd.DataFrame]], *, dates: Sequence[str], context: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Return the zone's panels: each a title and an SVG, or no SVG (shown as withheld) when gold holds nothing."""
    empty = pd.DataFrame()
    hourly, demographics, directions, catchment, repeat = (
        by_zone[t].get(zone_id, empty)
        for t in (
            S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE,
            S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE,
            S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE,
            S.GOLD_ZONE_CATCHMENT_DAILY_TABLE,
            S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE,
        )
    )
    expected = by_zone.get(S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE, {}).get(zone_id, empty)
    if not expected.empty:
        # a zone publishes counts or expected visitors, never both: its one chart is the expected hourly curve
        as_hourly = _expected_as_hourly(expected)
        title = "Expected visitors per local hour (sums of presence probabilities: the cells cannot count them)"
        chart = C.hourly_chart(as_hourly, dates=dates, k=context["k"], title=title)
        svg = render_svg(chart, key=f"{zone_id}-expected")
        return [{"kind": "expected", "title": title, "svg": svg}]
    flows = context["flows"]
    flows = flows[(flows[S.FROM_ZONE_ID] == zone_id) | (flows[S.TO_ZONE_ID] == zone_id)]
    panels: list[tuple[str, str, pd.DataFrame, str, Callable[[], alt.TopLevelMixin]]] = [
        (
            "hourly",
            "Visitors per local hour",
            hourly,
            S.VISITORS,
            partial(C.hourly_chart, hourly, dates=dates, k=context["k"]),
        ),
        ("dwell", "Dwell of visits", hourly, S.DWELL_MEDIAN_S, partial(C.dwell_chart, hourly)),
        ("rose", "Arrival direction", directions, S.VISITORS, partial(C.direction_rose, directions)),
        (
            "demographics",
            "Age x gender",
            demographics,
            S.VISITORS,
            partial(C.demographics_chart, demographics, age_bands=context["age_bands"]),
        ),
        ("repeat", "Repeat visits", repeat, S.VISITORS, partial(C.repeat_visits_chart, repeat)),
        (
            "catchment",
            "Home districts",
            catchment,
            S.VISITORS,
            partial(C.catchment_chart, catchment, names=context["district_names"]),
        ),
        (
            "flows",
            "Flows",
            flows,
            S.TRAVELLERS,
            partial(C.flows_chart, flows, zone_id=zone_id, names=context["zone_names"]),
        ),
    ]
    out = []
    for kind, title, df, column, build in panels:
        has = not df.empty and bool(df[column].notna().any())
        out.append({"kind": kind, "title": title, "svg": render_svg(build(), key=f"{zone_id}-{kind}") if has else None})
    return out


def _city_map(
    zones_df: pd.DataFrame,
    shapes: pd.DataFrame,
    districts: pd.DataFrame,
    catchment_df: pd.DataFrame,
    *,
    peaks: pd.Series,
    labels: Mapping[str, str | None],
    k: int | None,
) -> tuple[Markup | None, list[str]]:
    """Return the city map's SVG (None without shapes in silver) and the notes under it."""
    if shapes.empty and districts.empty:
        return None, ["no zone or district shapes in silver: the map needs `footfall spatial`"]
    by_home = _published(catchment_df, S.VISITORS).groupby(S.HOME_DISTRICT_ID)[S.VISITORS].sum()
    districts = districts.assign(**{S.VISITORS: districts[S.DISTRICT_ID].map(by_home).astype("Float64")})
    zones = zones_df[[S.ZONE_ID]].merge(shapes, on=S.ZONE_ID, how="inner")
    zones[C.PEAK] = zones[S.ZONE_ID].map(peaks).astype("Float64")
    zones[C.STATUS] = [labels[z] or "hours withheld in the period" for z in zones[S.ZONE_ID]]
    who = f"fewer than {k} people" if k is not None else "fewer than k people"
    chart = C.city_map(districts, zones, withheld_label=f"withheld: {who} or not resolvable")
    notes = []
    if S.HOME_UNKNOWN in by_home:
        notes.append(f"visitor-days of devices without a detected home: {int(by_home[S.HOME_UNKNOWN])}")
    missing = sorted(set(zones_df[S.ZONE_ID]) - set(zones[S.ZONE_ID]))
    if missing:
        notes.append("zones without a shape in silver/zones: " + ", ".join(missing))
    return render_svg(chart, key="map"), notes


def render_report(lakehouse: Path, *, zone: str | None = None, start: str | None = None, end: str | None = None) -> str:
    """Return the report page of the newest publication as HTML."""
    lakehouse = Path(lakehouse)
    publication = read_publication(lakehouse)
    dates = parse_period(start, end, covered=publication[ALL_DATES])
    gold = _read_gold(lakehouse, publication, dates)
    zones_df = gold[S.GOLD_ZONES_TABLE].sort_values(S.ZONE_ID, ignore_index=True)
    if zone is not None and zone not in set(zones_df[S.ZONE_ID]):
        raise ValueError(f"unknown zone {zone!r}; gold/zones has {', '.join(zones_df[S.ZONE_ID])}")
    metadata: Mapping[str, Any] = publication[METADATA]
    k = int(metadata["k"]) if metadata.get("k") is not None else None
    selected = [zone] if zone is not None else list(zones_df[S.ZONE_ID])
    labels = _zone_labels(zones_df, gold, k=k)
    hourly_peaks = _published(gold[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE], S.VISITORS).groupby(S.ZONE_ID)[S.VISITORS].max()
    expected = _published(gold[S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE], S.VISITORS_EXPECTED)
    peaks = hourly_peaks.combine_first(expected.groupby(S.ZONE_ID)[S.VISITORS_EXPECTED].max())
    districts = read_district_shapes(lakehouse)
    catchment = gold[S.GOLD_ZONE_CATCHMENT_DAILY_TABLE]
    city_svg, map_notes = _city_map(
        zones_df,
        read_zone_shapes(lakehouse, publication=publication),
        districts,
        catchment[catchment[S.ZONE_ID].isin(selected)],
        peaks=peaks,
        labels=labels,
        k=k,
    )
    context = {
        "k": k,
        "flows": gold[S.GOLD_ZONE_FLOWS_DAILY_TABLE],
        "age_bands": sorted(set(gold[S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE][S.AGE_BAND])),
        "zone_names": dict(zip(zones_df[S.ZONE_ID], zones_df[S.NAME], strict=True)),
        "district_names": dict(zip(districts[S.DISTRICT_ID], districts[S.NAME], strict=True)),
    }
    by_zone = {t: _by_zone(df) for t, df in gold.items() if S.ZONE_ID in df.columns}
    zones = [
        {**z, "label": labels[z[S.ZONE_ID]], "peak": _int(peaks.get(z[S.ZONE_ID]))} for z in zones_df.to_dict("records")
    ]
    sections = [
        {**z, "panels": [] if z["label"] else _zone_panels(z[S.ZONE_ID], by_zone, dates=dates, context=context)}
        for z in zones
        if z[S.ZONE_ID] in selected
    ]
    template = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
        files("footfall.report").joinpath("template.html.j2").read_text(encoding="utf-8")
    )
    return template.render(
        lakehouse=str(lakehouse),
        publication=publication,
        metadata=metadata,
        k=k,
        dates=dates,
        input_changes=read_input_changes(lakehouse, publication=publication, dates=dates),
        zone=zone,
        city_svg=city_svg,
        map_notes=map_notes,
        index=zones,
        sections=sections,
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def write_report(
    lakehouse: Path, out: Path, *, zone: str | None = None, start: str | None = None, end: str | None = None
) -> Path:
    """Write the report page to `out` and return its path."""
    page = render_report(Path(lakehouse), zone=zone, start=start, end=end)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
