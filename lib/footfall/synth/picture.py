"""A map of a generated city (cells, zones, districts) as PNG, for docs and for a first look at a layout."""

from __future__ import annotations

import math
from pathlib import Path

from footfall.synth.geo import wedge
from footfall.synth.layout import City

CATEGORY_COLOURS = {
    "shopping_street": "#d62728",
    "mall": "#1f77b4",
    "store_front": "#ff7f0e",
    "market_square": "#2ca02c",
}


def render_city(city: City, path: Path, *, title: str) -> None:
    """Draw districts, cell footprints and sites, and zones, in the local metric frame; write a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(16, 8), dpi=110)
    for axis in (ax, zoom):
        for d in city.districts:
            for poly in getattr(d.polygon, "geoms", [d.polygon]):
                axis.plot(*poly.exterior.xy, color="#888888", lw=0.6)
        for r in city.cells.itertuples(index=False):
            fp = wedge(r.x, r.y, None if math.isnan(r.azimuth_deg) else r.azimuth_deg, r.beamwidth_deg, r.range_m)
            small = r.technology.endswith("small")
            axis.fill(*fp.exterior.xy, color="#9467bd" if small else "#7f7f7f", alpha=0.25 if small else 0.025, lw=0)
        sites = city.cells.drop_duplicates("site_id")
        axis.scatter(sites.x, sites.y, s=4, color="black", zorder=3, label="cell sites")
        for z in city.zones:
            axis.fill(*z.polygon.exterior.xy, color=CATEGORY_COLOURS.get(z.category, "k"), zorder=4)
        axis.set_aspect("equal")
        axis.set_xlabel("metres east of the centre")
    for d in city.districts:
        c = d.polygon.representative_point()
        ax.annotate(
            f"{d.district_id}\n{d.residents:,}", (c.x, c.y), ha="center", va="center", fontsize=6, color="#555555"
        )
    for z in city.zones:
        c = z.polygon.centroid
        zoom.annotate(z.zone_id, (c.x, c.y), fontsize=7, zorder=5, xytext=(3, 3), textcoords="offset points")
    zoom.set_xlim(-1_200, 1_700)
    zoom.set_ylim(-1_100, 900)
    ax.set_ylabel("metres north of the centre")
    ax.set_title(title)
    zoom.set_title("centre (zones labelled; wedges are nominal cell footprints)")
    handles = [Patch(color=c, label=k.replace("_", " ")) for k, c in CATEGORY_COLOURS.items()]
    handles.append(Patch(color="#9467bd", alpha=0.5, label="indoor / small cell footprint"))
    ax.legend(handles=handles, loc="lower left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
