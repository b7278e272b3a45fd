"""Configuration: conf/<env>.yaml parsed once into frozen, typed objects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from footfall.jars import repo_root


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


DEFAULT_K = 20
MAX_PERIOD_WITHOUT_SIGN_OFF = 91  # a quarter
DEFAULT_RETENTION_DAYS = 90
MIN_RETENTION_DAYS = 14  # two weeks: a home votes on the 7 nights before its date, a repeat visit counts a week
# setting -> (within the promise?, what is past it): values past the promise need privacy.dpo_approved
SIGN_OFFS: dict[str, tuple[Callable[[int], bool], str]] = {
    "publish.k": (lambda k: k >= DEFAULT_K, f"below {DEFAULT_K}"),
    "privacy.pseudonym_period_days": (
        lambda days: days <= MAX_PERIOD_WITHOUT_SIGN_OFF,
        f"above {MAX_PERIOD_WITHOUT_SIGN_OFF} days",
    ),
    "privacy.retention_days": (
        lambda days: days <= DEFAULT_RETENTION_DAYS,
        f"above {DEFAULT_RETENTION_DAYS} days",
    ),
}


class PrivacyConfig(_Frozen):
    """How ingest pseudonymises and which subscribers it keeps; the key itself is never in the config."""

    pseudonym_key_file: Path = Field(
        default=Path(".dev-pseudonym-key"),
        strict=False,
        description="file holding the master pseudonym key when FOOTFALL_PSEUDONYM_KEY is not set",
    )
    pseudonym_period_days: int = Field(
        default=28,
        le=364,
        description="days per pseudonym key, a multiple of 7 and at most a year: periods are whole local ISO weeks; "
        "no link across them. Above 91 days it needs dpo_approved",
    )
    retention_days: int = Field(
        default=DEFAULT_RETENTION_DAYS,
        ge=MIN_RETENTION_DAYS,
        le=366,
        description="local dates of pseudonymous silver kept, counted back from the newest date the run holds and "
        "widened to whole ISO weeks; older dates are deleted and vacuumed, their gold stays. Above 90 needs "
        "dpo_approved",
    )
    age_bands: tuple[int, ...] = Field(
        default=(18, 25, 35, 45, 55, 65),
        strict=False,
        description="lower bounds of the age bands; anyone younger than the first is excluded from all outputs",
    )

    dpo_approved: tuple[str, ...] = Field(
        default=(),
        strict=False,
        description="settings past the promise that a data-protection officer signed off: publish.k below 20, "
        "privacy.pseudonym_period_days above 91, privacy.retention_days above 90; recorded in every commit's metadata",
    )

    @field_validator("dpo_approved")
    @classmethod
    def _known_sign_offs(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(keys) - set(SIGN_OFFS))
        if unknown:
            raise ValueError(f"{unknown} need no sign-off; the settings that do: {sorted(SIGN_OFFS)}")
        return tuple(sorted(set(keys)))

    @field_validator("pseudonym_period_days")
    @classmethod
    def _whole_weeks(cls, days: int) -> int:
        # Periods start on Mondays; whole weeks keep every local date and ISO week inside one period, so no
        # published count ever sees one device under two pseudonyms.
        if days <= 0 or days % 7:
            raise ValueError("must be a positive multiple of 7 (whole ISO weeks), so no week spans two periods")
        return days

    @field_validator("age_bands")
    @classmethod
    def _increasing(cls, bands: tuple[int, ...]) -> tuple[int, ...]:
        if not bands or bands[0] < 0 or any(b <= a for a, b in pairwise(bands)):
            raise ValueError("must be a non-empty list of increasing ages >= 0")
        return bands


class IngestConfig(_Frozen):
    """Row checks beyond the landing contract (docs/ingest.md, "Bad inputs")."""

    # A phone makes tens to a few thousand xDRs a day; a SIM box or a test device can make one a second. All events
    # of a device above this on one UTC date are quarantined as implausible_rate: they are not one person's day,
    # and one device's 86,400 events would otherwise be one sort in mobility's per-device windows.
    max_events_per_device_day: int | None = Field(
        default=20_000,
        gt=0,
        description="events of one device on one UTC date above which all of them are quarantined; null: no limit",
    )


class GuardsConfig(_Frozen):
    """The circuit breaker on quarantine (docs/ingest.md, "Guards"): a landing date that loses more of its rows than
    this to checks is a fault upstream (a changed export, a shifted clock, a wrong setting), not a day to publish.

    Shares are of the date's rows read. Objections never count: dropping an objector's rows is not a fault.
    """

    max_dropped_share: float = Field(
        default=0.25, gt=0, le=1, description="rows quarantined or dropped for any reason but an objection"
    )
    max_reason_share: float = Field(
        default=0.10, gt=0, le=1, description="rows quarantined for any one reason (a fault of the export)"
    )
    max_minor_share: float = Field(
        default=0.25, gt=0, le=1, description="rows dropped as a minor's (a population share, not a fault, below it)"
    )
    accept_quarantine: bool = Field(
        default=False,
        description="publish a date past a threshold anyway, after looking (`--accept-quarantine`); in its audit row",
    )


class DemoConfig(_Frozen):
    """The generated city `make run` puts into the landing folder when it holds no export yet."""

    subscribers: int = Field(default=3000, ge=1, description="subscribers of the generated city")
    days: int = Field(default=2, ge=1, description="days of events")
    start: dt.date = Field(default=dt.date(2026, 3, 6), strict=False, description="first day, YYYY-MM-DD")
    seed: int = Field(default=42, description="the same seed gives the same files")
    mode: str = Field(default="xdr", pattern="^(xdr|cdr)$", description="xdr (data sessions) or cdr (calls, SMS)")
    bad_row_rate: float = Field(default=0.01, ge=0, lt=0.5, description="share of events turned into bad rows")


class CoverageConfig(_Frozen):
    """The coverage model behind the posterior presence model (docs/spatial.md, "Coverage model").

    Radio-planning values, not measurements of any city: the defaults are textbook values for an urban macro layer
    (3GPP TR 36.814 powers and antenna pattern, a COST-231 Hata-like slope, 3GPP TR 38.901 building entry loss).
    """

    tile_m: float = Field(default=50.0, ge=10, le=500, description="side of the square grid tiles, metres")
    margin_m: float = Field(default=1500.0, ge=0, description="the grid covers the zones' bounds plus this, metres")
    macro_power_db: float = Field(default=61.0, description="EIRP of macro cells (46 dBm + 15 dBi), dB")
    small_power_db: float = Field(default=29.0, description="EIRP of small cells (technology '*-small'), dB")
    path_loss_exponent: float = Field(default=3.5, gt=1, le=6, description="path loss per decade of distance / 10")
    pattern_floor_db: float = Field(default=25.0, gt=0, description="antenna pattern attenuation floor (3GPP), dB")
    wall_loss_db: float = Field(default=20.0, ge=0, description="building entry loss of a mall's walls, dB")
    shadowing_db: float = Field(default=6.0, gt=0, description="spread of shadowing per cell and event, dB")
    min_p: float = Field(default=1e-4, gt=0, lt=1, description="serving probabilities below this are not stored")
    home_tile_m: float = Field(
        default=100.0, ge=10, le=1000, description="tile side of the home grid, which covers the districts, metres"
    )


class SpatialConfig(_Frozen):
    """How the spatial stage turns cells and zones into weights (docs/spatial.md)."""

    metric_crs: str = Field(
        default="EPSG:25832",
        pattern=r"^EPSG:\d+$",
        description="projected CRS in metres where footprints and areas are computed (UTM 32N suits 6-12 E)",
    )
    footprint_model: str = Field(
        default="voronoi",
        pattern="^(sector|voronoi)$",
        description="voronoi: site Voronoi cell clipped to range, split among sectors (measured better, "
        "docs/spatial.md); sector: wedge from azimuth, beamwidth, range",
    )
    min_resolution_score: float = Field(
        default=0.5, ge=0, le=1, description="zones whose resolution score is below this are flagged"
    )
    resolution_model: str = Field(
        default="coverage",
        pattern="^(footprint|coverage)$",
        description="coverage: a zone's resolution score from the coverage model's posterior (docs/spatial.md); "
        "footprint: from footprint overlaps",
    )
    coverage: CoverageConfig = Field(default_factory=CoverageConfig, description="the coverage model's parameters")


ZoneCategory = Literal["mall", "shopping_street", "market_square", "store_front"]


class ExpectedConfig(_Frozen):
    """Expected visitors: zones a crisp count cannot resolve, counted as sums of presence probabilities under a prior
    that puts more people inside zones than around them (docs/mobility.md, "Expected visitors"); chosen from
    bench/results/evaluate_matrix.md."""

    categories: list[ZoneCategory] = Field(
        default_factory=lambda: list[ZoneCategory](["market_square"]),
        description="zone categories estimated as expected visitors (empty: none); streets miss the 30 % error target",
    )
    zone_prior_factor: float = Field(default=64.0, ge=1, description="prior density inside zones relative to outside")
    min_mass: float = Field(default=0.02, gt=0, le=1, description="least posterior mass for an expected visit's event")


class PosteriorConfig(_Frozen):
    """The posterior presence model (docs/mobility.md, "Posterior"); tuned on seed 42 by bench/evaluate_matrix.py."""

    window_s: int = Field(
        default=600, gt=0, le=3600, description="events this close in time inform each other's location"
    )
    max_neighbours: int = Field(default=16, ge=0, description="at most this many neighbours per event (the closest)")
    min_mass: float = Field(default=0.3, gt=0, le=1, description="least posterior mass inside a zone for presence")
    zone_prior_factor: float = Field(
        default=1.0, ge=1, description="prior density inside zones relative to outside (1: uniform over tiles)"
    )
    max_gap_s: int = Field(default=1800, gt=0, le=14_400, description="present events this close belong to one stay")
    max_edge_s: int = Field(
        default=1800, ge=0, le=14_400, description="the most entry or exit can lie before or after an event"
    )
    expected: ExpectedConfig = Field(default_factory=ExpectedConfig, description="expected visitors' settings")


class MobilityConfig(_Frozen):
    """Thresholds of the mobility stage (docs/mobility.md)."""

    presence_model: str = Field(
        default="posterior",
        pattern="^(threshold|weighted|posterior)$",
        description="threshold: weight >= min_weight; weighted: expected presence; posterior: from event sequences",
    )
    posterior: PosteriorConfig = Field(default_factory=PosteriorConfig, description="the posterior model's settings")
    min_weight: float = Field(default=0.05, gt=0, le=1, description="threshold model: least cell weight for presence")
    max_gap_s: int = Field(default=900, gt=0, le=14_400, description="present events this close belong to one stay")
    min_visit_s: int = Field(default=300, gt=0, le=14_400, description="a stay this long is a visit, shorter a pass-by")
    arrival_lookback_s: int = Field(
        default=1800, gt=0, le=14_400, description="how far back the arrival direction looks"
    )
    min_arrival_distance_m: float = Field(default=150.0, ge=0, description="closer than this: direction unknown")
    home_model: str = Field(
        default="posterior",
        pattern="^(posterior|footprint)$",
        description="posterior: each night's place from all its events on the home grid; footprint: cell weights",
    )
    home_event_cap_s: int = Field(
        default=3600, gt=0, description="posterior homes: a night event stands for its half-gaps, each at most this"
    )
    night_start_hour: int = Field(default=20, ge=0, le=23, description="nights start at this local hour")
    night_end_hour: int = Field(default=8, ge=0, le=23, description="nights end at this local hour")
    min_nights: int = Field(default=1, ge=1, description="nights in one district before it is a home")
    home_nights: int = Field(
        default=7, ge=1, le=30, description="nights before a date that vote for its home (the last ends that morning)"
    )
    max_transition_s: int = Field(
        default=3600, gt=0, le=86_400, description="a visit within this after another is a flow"
    )


class NoiseConfig(_Frozen):
    """Optional noise on published counts, on top of k (docs/privacy.md); off by default.

    Not differential privacy: whether a value is published depends on its true count (k), so one person at
    exactly k decides publication with certainty. epsilon and delta only set the noise's scale.
    """

    mechanism: str = Field(default="none", pattern="^(none|laplace|gaussian)$", description="none, laplace or gaussian")
    epsilon: float = Field(
        default=1.0, gt=0, le=10, description="noise scale per table and partition; not a DP guarantee"
    )
    delta: float = Field(default=1e-6, ge=0, lt=1, description="gaussian only: sets sigma as for (epsilon, delta)")
    contribution_bound: int = Field(
        default=8,
        ge=1,
        le=1000,
        description="most cells one device may add to per table and partition; the rest are dropped",
    )

    @model_validator(mode="after")
    def _gaussian_needs_delta(self) -> NoiseConfig:
        if self.mechanism == "gaussian" and self.delta <= 0:
            raise ValueError("the gaussian mechanism needs delta > 0")
        return self


class PublishConfig(_Frozen):
    """Disclosure control and publication of the gold tables (docs/privacy.md, docs/outputs.md)."""

    k: int = Field(
        default=DEFAULT_K,
        ge=2,
        description="least distinct devices behind any published number (never below 2; below 20 needs dpo_approved)",
    )
    suppression_mode: str = Field(
        default="delete", pattern="^(delete|null)$", description="delete the rows of small cohorts, or null the values"
    )
    include_low_resolution: bool = Field(
        default=False, description="publish counts of zones whose cells cannot resolve them (flagged in gold/zones)"
    )
    extrapolation_rounding: int = Field(
        default=10, ge=1, description="visitors_extrapolated is rounded to a multiple of this"
    )
    extrapolation_max_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="visitors_extrapolated is withheld where one person's weight is more than this share of it",
    )
    noise: NoiseConfig = Field(default_factory=NoiseConfig, description="optional noise before thresholding")


class CatalogConfig(_Frozen):
    """Where `footfall.<table>` is registered after each publication (docs/outputs.md, "A catalog that outlives the
    session")."""

    kind: Literal["session", "hive"] = Field(
        default="session",
        description="session: views for the running session only; hive: a Hive metastore that outlives it",
    )
    metastore_dir: Path = Field(
        default=Path("data/metastore"),
        strict=False,
        description="hive without metastore_uri: the embedded Derby metastore and warehouse (one JVM at a time)",
    )
    metastore_uri: str | None = Field(
        default=None, description="hive: a shared metastore service instead of embedded Derby, e.g. thrift://host:9083"
    )

    @model_validator(mode="after")
    def _uri_needs_hive(self) -> CatalogConfig:
        # Otherwise a metastore named with the default kind would be ignored without a word.
        if self.metastore_uri is not None and self.kind != "hive":
            raise ValueError("metastore_uri needs kind: hive")
        return self


class Config(_Frozen):
    """The whole configuration of a footfall deployment."""

    landing: Path = Field(description="where operator exports arrive; relative paths are relative to the repo root")
    lakehouse: Path = Field(description="where the Delta tables live; relative paths are relative to the repo root")
    timezone: str = Field(default="Europe/Berlin", description="local time of the zones, for every reported hour")
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig, description="pseudonymisation and age bands")
    ingest: IngestConfig = Field(default_factory=IngestConfig, description="row checks beyond the contract")
    guards: GuardsConfig = Field(default_factory=GuardsConfig, description="when a run stops instead of publishing")
    demo: DemoConfig = Field(default_factory=DemoConfig, description="the generated city for `make run`")
    mobility: MobilityConfig = Field(default_factory=MobilityConfig, description="stays, visits, home, flows")
    spatial: SpatialConfig = Field(default_factory=SpatialConfig, description="footprints and cell-to-zone weights")
    publish: PublishConfig = Field(default_factory=PublishConfig, description="k, suppression, noise, extrapolation")
    catalog: CatalogConfig = Field(default_factory=CatalogConfig, description="where footfall.<table> is registered")

    @model_validator(mode="after")
    def _signed_off(self) -> Config:
        # A k below the default, a key that links a person's events for more than a quarter, or movement data kept
        # for more than a quarter changes what footfall promises: such a config must say that a data-protection
        # officer agreed (docs/privacy.md).
        values = {
            "publish.k": self.publish.k,
            "privacy.pseudonym_period_days": self.privacy.pseudonym_period_days,
            "privacy.retention_days": self.privacy.retention_days,
        }
        for key, (allowed, bound) in SIGN_OFFS.items():
            if not allowed(values[key]) and key not in self.privacy.dpo_approved:
                raise ValueError(
                    f"{key} = {values[key]} is {bound}: a change of the privacy promise; add '{key}' to "
                    "privacy.dpo_approved once a data-protection officer has signed it off"
                )
        return self


def _key_of(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    key = _key_of(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return f"key '{key}' is missing"
    if kind == "extra_forbidden":
        return f"key '{key}' is not a known setting"
    if not error["loc"]:  # a check across sections (Config._signed_off): its message names the key and value
        return str(error["msg"]).removeprefix("Value error, ")
    return f"key '{key}': {error['msg']} (got {error.get('input')!r})"


def parse_config(raw: Any, *, source: str) -> Config:
    """Return a Config from parsed YAML, raising ConfigError that names `source` and every bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level, got {type(raw).__name__}")
    # YAML gives strings for paths; strict mode wants Path objects, so convert the known path keys up front.
    data = {k: Path(v) if k in ("landing", "lakehouse") and isinstance(v, str) else v for k, v in raw.items()}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())  # type: ignore[arg-type]
        raise ConfigError(f"{source}: {problems}") from None


def load_config(path: Path | str) -> Config:
    """Return the Config in a YAML file, with relative paths resolved against the repo root."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    config = parse_config(raw, source=str(path))
    root = repo_root()
    privacy = config.privacy.model_copy(update={"pseudonym_key_file": root / config.privacy.pseudonym_key_file})
    catalog = config.catalog.model_copy(update={"metastore_dir": root / config.catalog.metastore_dir})
    return config.model_copy(
        update={
            "landing": root / config.landing,
            "lakehouse": root / config.lakehouse,
            "privacy": privacy,
            "catalog": catalog,
        }
    )
