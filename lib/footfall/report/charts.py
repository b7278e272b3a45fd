"""The report's charts: pure functions from a pandas frame of gold rows to an Altair chart.

A withheld number is never drawn as a value: lines break at withheld hours, which get a grey band, and a cell or
bar that gold does not hold is grey or named in the subtitle. Vega-Lite drops a shape whose colour is null, so the
charts either draw a grey base first or map nulls to grey with `invalid="show"` and `config.scale.invalid`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd
from shapely.geometry import GeometryCollection, MultiPolygon, Polygon, mapping
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from footfall import schemas as S

WITHHELD_GREY = "#b9b9b9"
NO_DATA_FILL = "#f1f1f1"
INVALID_GREY = {"color": {"value": WITHHELD_GREY}}  # with invalid="show": a null colour is grey, not dropped
DIRECTIONS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
GENDER_ORDER = ("f", "m", "x", S.GENDER_UNKNOWN)
MAX_DATE_COLOURS = 7  # more dates than this are drawn as thin grey lines under the average
PEAK = "peak"
STATUS = "status"


def vega_oriented(geometry: BaseGeometry) -> BaseGeometry:
    """Return the geometry with clockwise exterior rings, as Vega's spherical projections expect."""
    # d3-geo reads a counter-clockwise ring as "everything but this", which fills the whole frame
    if isinstance(geometry, Polygon):
        return orient(geometry, sign=-1.0)
    if isinstance(geometry, MultiPolygon):
        return MultiPolygon([orient(p, sign=-1.0) for p in geometry.geoms])
    if isinstance(geometry, GeometryCollection):
        return GeometryCollection([vega_oriented(g) for g in geometry.geoms])
    return geometry


def _plain(value: Any) -> Any:
    """Return a JSON-ready value: NaN and NA become None, numpy scalars Python ones, dates ISO strings."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def records(df: pd.DataFrame) -> alt.Data:
    """Return the frame as inline Vega data (no MaxRows limit, nulls kept as null)."""
    return alt.Data(values=[{k: _plain(v) for k, v in row.items()} for row in df.to_dict("records")])


def features(df: pd.DataFrame, *, geometry: str = "geometry") -> alt.Data:
    """Return inline GeoJSON features of the frame's shapes, oriented for Vega, other columns as properties."""
    values = [
        {
            "type": "Feature",
            "geometry": mapping(vega_oriented(row[geometry])),
            "properties": {k: _plain(v) for k, v in row.items() if k != geometry},
        }
        for row in df.to_dict("records")
    ]
    return alt.Data(values=values)


def _count(value: Any) -> str:
    return "withheld" if value is None or pd.isna(value) else str(int(value))


def city_map(districts_df: pd.DataFrame, zones_df: pd.DataFrame, *, withheld_label: str) -> alt.TopLevelMixin:
    """Return the city map: districts coloured by catchment `visitors`, zones by `peak` hourly visitors (or `status`).

    SVG paths per feature: every district has one path labelled "district <id> ..." and, when it has a published
    catchment, a second one labelled "catchment <id> ..." on top; every zone has exactly one path labelled
    "zone <id> ..." (grey when withheld) and one marker at its centroid with no aria-label. A test counts zone
    shapes as the elements whose aria-label starts with "zone ".
    """
    districts_df = districts_df.assign(
        label_base=[
            f"district {d} {n}" for d, n in zip(districts_df[S.DISTRICT_ID], districts_df[S.NAME], strict=True)
        ],
        label_catchment=[
            f"catchment {d} {n}: {_count(v)} visitor-days"
            for d, n, v in zip(districts_df[S.DISTRICT_ID], districts_df[S.NAME], districts_df[S.VISITORS], strict=True)
        ],
    )
    zones_df = zones_df.assign(
        label=[
            f"zone {z} {n}: " + (f"peak {int(p)} visitors per hour" if pd.notna(p) else status)
            for z, n, p, status in zip(
                zones_df[S.ZONE_ID], zones_df[S.NAME], zones_df[PEAK], zones_df[STATUS], strict=True
            )
        ],
        map_text=[f"{z} {_count(p)}" for z, p in zip(zones_df[S.ZONE_ID], zones_df[PEAK], strict=True)],
    )
    # districts use the fill channel and zones the colour channel: two scales and two legends without resolve
    fill = alt.Fill("properties.visitors:Q", title="catchment (visitor-days)", scale=alt.Scale(scheme="blues"))
    district_base = (
        alt.Chart(features(districts_df))
        .mark_geoshape(fill=NO_DATA_FILL, stroke="#8a8a8a", strokeWidth=0.7)
        .encode(description=alt.Description("properties.label_base:N"))
    )
    catchment = (
        alt.Chart(features(districts_df[districts_df["visitors"].notna()]))
        .mark_geoshape(stroke="#8a8a8a", strokeWidth=0.7)
        .encode(fill=fill, description=alt.Description("properties.label_catchment:N"))
    )
    zone_colour = alt.Color(
        "properties.peak:Q", title="zone: peak visitors per hour", scale=alt.Scale(scheme="orangered")
    )
    zones = (
        alt.Chart(features(zones_df))
        .mark_geoshape(stroke="#222", strokeWidth=0.6, invalid="show")
        .encode(color=zone_colour, description=alt.Description("properties.label:N"))
    )
    # store fronts are a few metres wide: a centroid marker keeps every zone visible at city scale
    centroids = zones_df.assign(lon=[g.centroid.x for g in zones_df["geometry"]])
    centroids = centroids.assign(lat=[g.centroid.y for g in zones_df["geometry"]]).drop(columns="geometry")
    markers = (
        alt.Chart(records(centroids))
        .mark_point(filled=True, size=40, stroke="#222", strokeWidth=0.6, aria=False, invalid="show")
        .encode(longitude="lon:Q", latitude="lat:Q", color=zone_colour)
    )
    labels = (
        alt.Chart(records(centroids[centroids[PEAK].notna()]))
        .mark_text(dy=-11, fontSize=11, fontWeight="bold", aria=False)
        .encode(longitude="lon:Q", latitude="lat:Q", text="map_text:N")
    )
    layers = [district_base, catchment, zones, markers, labels]
    if districts_df[S.VISITORS].isna().all():
        layers.remove(catchment)  # an empty layer would still draw a legend (of NaN)
    return (
        alt.layer(*layers)
        .project(type="mercator")
        .properties(
            width=760,
            height=620,
            title=alt.Title(
                "City: catchment by home district, zones by peak visitors per hour",
                subtitle=[f"grey zones: {withheld_label}", "pale districts: no published catchment"],
            ),
        )
        .configure_scale(invalid=INVALID_GREY)
        .configure_view(stroke=None)
    )


def _runs(hours: Sequence[int]) -> list[tuple[int, int]]:
    """Return the contiguous runs of sorted hours as (first, last) pairs."""
    runs: list[tuple[int, int]] = []
    for h in sorted(hours):
        if runs and h == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], h)
        else:
            runs.append((h, h))
    return runs


def hourly_grid(hourly_df: pd.DataFrame, *, dates: Sequence[str]) -> pd.DataFrame:
    """Return date x hour 0-23 with visitors, null where gold has no row or a null value (withheld)."""
    grid = pd.MultiIndex.from_product([list(dates), range(24)], names=[S.DATE, S.HOUR]).to_frame(index=False)
    rows = hourly_df.assign(**{S.DATE: hourly_df[S.DATE].map(str)})[[S.DATE, S.HOUR, S.VISITORS]]
    out = grid.merge(rows, on=[S.DATE, S.HOUR], how="left")
    out[S.VISITORS] = out[S.VISITORS].astype("Float64")
    return out


def hourly_chart(
    hourly_df: pd.DataFrame, *, dates: Sequence[str], k: int | None, title: str = "Visitors per local hour"
) -> alt.TopLevelMixin:
    """Return visitors per local hour: a line per date, their average, grey bands where gold withheld the hour."""
    grid = hourly_grid(hourly_df, dates=dates)
    published = grid[grid[S.VISITORS].notna()].copy()
    # a new segment starts after every withheld hour, so a line never bridges (or drops to 0 at) a withheld hour
    grid["segment"] = grid.groupby(S.DATE)[S.VISITORS].transform(lambda v: v.isna().cumsum())
    published["segment"] = grid.loc[published.index, "segment"].map(str) + "-" + published[S.DATE]
    published["label"] = [
        f"{d} {h:02d}:00: {int(v)} visitors"
        for d, h, v in zip(published[S.DATE], published[S.HOUR], published[S.VISITORS], strict=True)
    ]
    withheld_on = grid[grid[S.VISITORS].isna()].groupby(S.HOUR)[S.DATE].nunique()
    every = [int(h) for h, n in withheld_on.items() if n == len(dates)]
    some = [int(h) for h, n in withheld_on.items() if n < len(dates)]
    bands = pd.DataFrame(
        [{"x0": a - 0.5, "x1": b + 0.5, "kind": "every date"} for a, b in _runs(every)]
        + [{"x0": a - 0.5, "x1": b + 0.5, "kind": "some dates"} for a, b in _runs(some)],
        columns=["x0", "x1", "kind"],
    )
    bands["text"] = [
        "withheld" if kind == "every date" and b - a >= 3 else ""
        for kind, a, b in zip(bands["kind"], bands["x0"], bands["x1"], strict=True)
    ]
    x = alt.X(
        "hour:Q", title="local hour", scale=alt.Scale(domain=[-0.5, 23.5], nice=False), axis=alt.Axis(tickCount=24)
    )
    y = alt.Y("visitors:Q", title="visitors", scale=alt.Scale(zero=True))
    band_fill = alt.Color(
        "kind:N",
        title="withheld",
        scale=alt.Scale(domain=["every date", "some dates"], range=["#d9d9d9", "#efefef"]),
    )
    layers: list[alt.Chart] = [
        alt.Chart(records(bands)).mark_rect(aria=False).encode(x="x0:Q", x2="x1:Q", fill=band_fill),
        alt.Chart(records(bands))
        .mark_text(baseline="top", dy=4, color="#555", aria=False)
        .encode(x=alt.X("mid:Q"), y=alt.value(0), text="text:N")
        .transform_calculate(mid="(datum.x0 + datum.x1) / 2"),
    ]
    many = len(dates) > MAX_DATE_COLOURS
    colour = alt.value("#c4c4c4") if many else alt.Color("date:N", title="date")
    layers.append(
        alt.Chart(records(published))
        .mark_line(strokeWidth=1 if many else 2)
        .encode(x=x, y=y, color=colour, detail="segment:N")
    )
    layers.append(
        alt.Chart(records(published))
        .mark_point(filled=True, size=22)
        .encode(x=x, y=y, color=colour, description=alt.Description("label:N"))
    )
    if len(dates) > 1:
        # the average only where every date is published: an average of the published days alone would be biased up
        full = grid.groupby(S.HOUR)[S.VISITORS].agg(["mean", "count"]).reset_index()
        full = full[full["count"] == len(dates)].rename(columns={"mean": "average"})
        full["segment"] = (full[S.HOUR].diff() != 1).cumsum()
        layers.append(
            alt.Chart(records(full))
            .mark_line(color="#111", strokeWidth=3, strokeDash=[6, 3])
            .encode(x=x, y=alt.Y("average:Q"), detail="segment:N")
        )
    if not published.empty:
        peak = published.loc[[published[S.VISITORS].idxmax()]]
        peak = peak.assign(text=[f"peak {int(v)}" for v in peak[S.VISITORS]])
        layers.append(alt.Chart(records(peak)).mark_text(dy=-10, fontWeight="bold").encode(x=x, y=y, text="text:N"))
    who = f"fewer than {k} people" if k is not None else "fewer than k people"
    subtitle = f"grey: withheld ({who}); lines break there, never drop to 0"
    if len(dates) > 1:
        subtitle += "; dashed: average over the dates, where every date is published"
    return alt.layer(*layers).properties(width=620, height=230, title=alt.Title(title, subtitle=subtitle))


def dwell_chart(hourly_df: pd.DataFrame) -> alt.TopLevelMixin:
    """Return the dwell quartiles (minutes) of the visits starting in each hour: p25-p75 bar and the median."""
    df = hourly_df[hourly_df[S.DWELL_MEDIAN_S].notna()].copy()
    df[S.DATE] = df[S.DATE].map(str)
    for column in (S.DWELL_P25_S, S.DWELL_MEDIAN_S, S.DWELL_P75_S):
        df[column.replace("_s", "_min")] = df[column] / 60.0
    x = alt.X("hour:O", title="local hour of the visit's start", scale=alt.Scale(domain=list(range(24))))
    offset = alt.XOffset("date:N")
    colour = alt.Color("date:N", title="date")
    span = (
        alt.Chart(records(df))
        .mark_bar(size=5, opacity=0.55)
        .encode(
            x=x, xOffset=offset, y=alt.Y("dwell_p25_min:Q", title="dwell (min)"), y2="dwell_p75_min:Q", color=colour
        )
    )
    median = (
        alt.Chart(records(df))
        .mark_tick(thickness=2, size=9, color="#111")
        .encode(x=x, xOffset=offset, y="dwell_median_min:Q")
    )
    return alt.layer(span, median).properties(
        width=620,
        height=170,
        title=alt.Title("Dwell of visits", subtitle="bar: 25th-75th percentile; tick: median; hours without: withheld"),
    )


def direction_rose(directions_df: pd.DataFrame) -> alt.TopLevelMixin:
    """Return a rose of arrival directions (visitor-days per direction over the period, N up, clockwise)."""
    sums = directions_df[directions_df[S.VISITORS].notna()].groupby(S.DIRECTION)[S.VISITORS].sum()
    rows = []
    for i, direction in enumerate(DIRECTIONS):
        value = sums.get(direction)
        rows.append(
            {
                S.DIRECTION: direction,
                "t0": math.radians(i * 45 - 22.5),
                "t1": math.radians(i * 45 + 22.5),
                "mid": math.radians(i * 45),
                S.VISITORS: None if value is None else int(value),
                "text": direction if value is None else f"{direction} {int(value)}",
            }
        )
    df = pd.DataFrame(rows)
    theta, theta2 = alt.Theta("t0:Q", scale=None), alt.Theta2("t1:Q")
    compass = (
        alt.Chart(records(df))
        .mark_arc(fill="#f6f6f6", stroke="#d5d5d5", aria=False)
        .encode(theta=theta, theta2=theta2, radius=alt.value(110))
    )
    wedges = (
        alt.Chart(records(df[df[S.VISITORS].notna()]))
        .mark_arc(stroke="white")
        .encode(
            theta=theta,
            theta2=theta2,
            radius=alt.Radius("visitors:Q", scale=alt.Scale(type="sqrt", zero=True, range=[0, 110])),
            color=alt.value("#d95f0e"),
            description=alt.Description("text:N"),
        )
    )
    labels = (
        alt.Chart(records(df))
        .mark_text(fontSize=11, aria=False)
        .encode(theta=alt.Theta("mid:Q", scale=None), radius=alt.value(128), text="text:N")
    )
    unknown = directions_df.loc[directions_df[S.DIRECTION] == "unknown", S.VISITORS].dropna().sum()
    withheld = [d for d in DIRECTIONS if d not in sums]
    subtitle = [f"unknown direction: {int(unknown)}" if unknown else "unknown direction: none published"]
    if withheld:
        subtitle.append("withheld: " + ", ".join(withheld))
    return alt.layer(compass, wedges, labels).properties(
        width=280, height=280, title=alt.Title("Arrival direction (visitor-days)", subtitle=subtitle)
    )


def _age_key(band: str) -> tuple[int, str]:
    digits = band.split("-")[0].rstrip("+")
    return (int(digits), band) if digits.isdigit() else (10**6, band)


def demographics_chart(demographics_df: pd.DataFrame, *, age_bands: Sequence[str]) -> alt.TopLevelMixin:
    """Return an age band x gender heatmap of visitor-days; cells gold does not hold are grey and say so."""
    sums = demographics_df.groupby([S.AGE_BAND, S.GENDER])[S.VISITORS].sum(min_count=1).reset_index()
    bands = sorted(set(age_bands) | set(sums[S.AGE_BAND]), key=_age_key)
    grid = pd.MultiIndex.from_product([bands, GENDER_ORDER], names=[S.AGE_BAND, S.GENDER]).to_frame(index=False)
    grid = grid.merge(sums, on=[S.AGE_BAND, S.GENDER], how="left")
    grid["text"] = ["\u2013" if pd.isna(v) else str(int(v)) for v in grid[S.VISITORS]]
    x = alt.X("gender:N", sort=list(GENDER_ORDER), title="gender")
    y = alt.Y("age_band:N", sort=bands, title="age band")
    cells = (
        alt.Chart(records(grid))
        .mark_rect(stroke="white", invalid="show")
        .encode(x=x, y=y, color=alt.Color("visitors:Q", title="visitor-days", scale=alt.Scale(scheme="purples")))
    )
    text = alt.Chart(records(grid)).mark_text(fontSize=11, aria=False).encode(x=x, y=y, text="text:N")
    return (
        alt.layer(cells, text)
        .properties(
            width=200, height=22 * len(bands), title=alt.Title("Age x gender", subtitle="grey, \u2013: withheld")
        )
        .configure_scale(invalid=INVALID_GREY)
    )


def repeat_visits_chart(repeat_df: pd.DataFrame) -> alt.TopLevelMixin:
    """Return visitors per ISO week by the number of days they visited (1, 2, 3, 4+); missing buckets are named."""
    df = repeat_df[repeat_df[S.VISITORS].notna()]
    withheld = [
        f"{week} {bucket}"
        for week in sorted(repeat_df[S.WEEK].unique())
        for bucket in S.VISIT_DAYS_BUCKETS
        if not ((df[S.WEEK] == week) & (df[S.VISIT_DAYS] == bucket)).any()
    ]
    x = alt.X("visit_days:N", sort=list(S.VISIT_DAYS_BUCKETS), scale=alt.Scale(domain=list(S.VISIT_DAYS_BUCKETS)))
    bars = (
        alt.Chart(records(df))
        .mark_bar()
        .encode(
            x=x.title("days visited in the week"), xOffset="week:N", y=alt.Y("visitors:Q"), color=alt.Color("week:N")
        )
    )
    text = (
        alt.Chart(records(df))
        .mark_text(dy=-6, fontSize=10)
        .encode(x=x, xOffset="week:N", y="visitors:Q", text="visitors:Q")
    )
    subtitle = "withheld: " + ", ".join(withheld) if withheld else "nothing withheld"
    return alt.layer(bars, text).properties(width=240, height=170, title=alt.Title("Repeat visits", subtitle=subtitle))


def _labelled_bars(
    df: pd.DataFrame, *, value: str, value_title: str, colour: str, title: str, subtitle: str
) -> alt.TopLevelMixin:
    """Return horizontal bars of `value` per `label` row, largest first, each with its number beside it."""
    y = alt.Y("label:N", title=None, sort="-x")
    bars = (
        alt.Chart(records(df))
        .mark_bar()
        .encode(x=alt.X(f"{value}:Q", title=value_title), y=y, color=alt.Color(f"{colour}:N", title=None))
    )
    text = (
        alt.Chart(records(df)).mark_text(align="left", dx=3, fontSize=10).encode(x=f"{value}:Q", y=y, text=f"{value}:Q")
    )
    return alt.layer(bars, text).properties(
        width=260, height=max(40, 18 * len(df)), title=alt.Title(title, subtitle=subtitle)
    )


def flows_chart(flows_df: pd.DataFrame, *, zone_id: str, names: Mapping[str, str]) -> alt.TopLevelMixin:
    """Return travellers from this zone to others and from others into it, summed over the period."""
    out = flows_df[flows_df[S.FROM_ZONE_ID] == zone_id].groupby(S.TO_ZONE_ID)[S.TRAVELLERS].sum()
    into = flows_df[flows_df[S.TO_ZONE_ID] == zone_id].groupby(S.FROM_ZONE_ID)[S.TRAVELLERS].sum()
    rows = [{"way": "next visit in", "other": z, S.TRAVELLERS: int(v)} for z, v in out.items() if pd.notna(v)]
    rows += [{"way": "came from", "other": z, S.TRAVELLERS: int(v)} for z, v in into.items() if pd.notna(v)]
    df = pd.DataFrame(rows, columns=["way", "other", S.TRAVELLERS])
    df["label"] = [f"{w} {o} {names.get(o, '')}".strip() for w, o in zip(df["way"], df["other"], strict=True)]
    return _labelled_bars(
        df,
        value=S.TRAVELLERS,
        value_title="travellers",
        colour="way",
        title="Flows (travellers)",
        subtitle="pairs not shown: withheld",
    )


def catchment_chart(catchment_df: pd.DataFrame, *, names: Mapping[str, str]) -> alt.TopLevelMixin:
    """Return visitor-days by home district (residents marked), largest first."""
    df = catchment_df[catchment_df[S.VISITORS].notna()]
    df = df.groupby([S.HOME_DISTRICT_ID, S.IS_RESIDENT])[S.VISITORS].sum().reset_index()
    df["label"] = [f"{d} {names.get(d, '')}".strip() for d in df[S.HOME_DISTRICT_ID]]
    df["who"] = ["resident" if r else "from elsewhere" for r in df[S.IS_RESIDENT]]
    return _labelled_bars(
        df,
        value=S.VISITORS,
        value_title="visitor-days",
        colour="who",
        title="Home districts",
        subtitle="districts not shown: withheld",
    )
