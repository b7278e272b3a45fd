"""The config loader: typed, frozen, and one clear message for each kind of mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from footfall.config import ConfigError, PrivacyConfig, load_config, parse_config
from footfall.jars import repo_root

ROOT = repo_root()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_local_config_resolves_paths_against_repo_root() -> None:
    config = load_config(ROOT / "conf" / "local.yaml")
    assert config.landing == ROOT / "data" / "landing"
    assert config.lakehouse == ROOT / "data" / "lakehouse"
    with pytest.raises(ValidationError):
        config.landing = Path("/elsewhere")  # type: ignore[misc]


@pytest.mark.parametrize("days", [30, 1, 10, 0, -7])
def test_a_pseudonym_period_of_other_than_whole_weeks_is_refused(days: int) -> None:
    raw = {"landing": "a", "lakehouse": "b", "privacy": {"pseudonym_period_days": days}}
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source="c.yaml")
    assert str(info.value) == (
        "c.yaml: key 'privacy.pseudonym_period_days': Value error, must be a positive multiple of 7 (whole ISO weeks),"
        f" so no week spans two periods (got {days})"
    )


@pytest.mark.parametrize("days", [7, 28, 91])
def test_whole_weeks_are_accepted_and_28_is_the_default(days: int) -> None:
    raw = {"landing": "a", "lakehouse": "b", "privacy": {"pseudonym_period_days": days}}
    assert parse_config(raw, source="c.yaml").privacy.pseudonym_period_days == days
    assert PrivacyConfig().pseudonym_period_days == 28
    assert load_config(ROOT / "conf" / "local.yaml").privacy.pseudonym_period_days == 28


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("landing: a\nlakehouse: b\nlakehuose: c\n", "key 'lakehuose' is not a known setting"),
        ("landing: a\n", "key 'lakehouse' is missing"),
        ("landing: a\nlakehouse: 3\n", "key 'lakehouse'"),
        ("landing: a\nlakehouse: b\ntimezone: [1]\n", "key 'timezone'"),
        ("- just\n- a list\n", "expected a mapping"),
        ("landing: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_cli_reports_config_error_without_stack_trace(tmp_path: Path) -> None:
    path = _write(tmp_path, "landing: a\nlakehouse: b\nbogus: 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "footfall.cli", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "bogus" in proc.stderr and str(path) in proc.stderr.replace("\n", "")
    assert "Traceback" not in proc.stderr + proc.stdout


def test_every_expected_error_has_its_exit_code_and_the_rest_are_internal() -> None:
    from footfall.cli import EXIT_INPUT_CONTRACT, EXIT_INTERNAL, EXIT_LOCKED, EXIT_SETUP, exit_code_of
    from footfall.ingest import PseudonymKeyError
    from footfall.pipeline import MissingDatesError
    from footfall.runlock import RunLockedError

    assert exit_code_of(MissingDatesError("x")) == EXIT_INPUT_CONTRACT
    assert exit_code_of(RunLockedError("x")) == EXIT_LOCKED
    assert exit_code_of(PseudonymKeyError("x")) == EXIT_SETUP
    assert exit_code_of(ZeroDivisionError()) is None and EXIT_INTERNAL == 70


def test_where_gold_lives_is_not_part_of_the_config_hash(tmp_path: Path) -> None:
    """Moving the lakehouse or landing, switching the catalog on or changing the demo city republishes nothing;
    any setting gold depends on changes the hash."""
    from footfall.config import CatalogConfig
    from footfall.publish.job import config_hash

    config = load_config(repo_root() / "conf" / "local.yaml")
    moved = config.model_copy(
        update={
            "landing": tmp_path / "landing",
            "lakehouse": tmp_path / "lakehouse",
            "catalog": CatalogConfig(kind="hive"),
            "demo": config.demo.model_copy(update={"subscribers": 10}),
            "privacy": config.privacy.model_copy(update={"pseudonym_key_file": tmp_path / "key"}),
        }
    )
    stricter = config.model_copy(update={"publish": config.publish.model_copy(update={"k": config.publish.k + 1})})
    other_bands = config.model_copy(update={"privacy": config.privacy.model_copy(update={"age_bands": (18, 30)})})
    assert config_hash(moved) == config_hash(config)
    assert len({config_hash(config), config_hash(stricter), config_hash(other_bands)}) == 3


def test_the_large_demo_is_the_demo_with_more_subscribers() -> None:
    """conf/demo-large.yaml names only what differs; everything else must be what conf/local.yaml runs with."""
    local = load_config(ROOT / "conf" / "local.yaml").model_dump()
    large = load_config(ROOT / "conf" / "demo-large.yaml").model_dump()
    assert large["demo"]["subscribers"] > local["demo"]["subscribers"]
    assert large["lakehouse"] != local["lakehouse"] and large["landing"] != local["landing"]
    for config in (local, large):
        del config["demo"]["subscribers"], config["landing"], config["lakehouse"]
    assert large == local


def test_a_metastore_uri_without_hive_is_refused_not_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, "landing: a\nlakehouse: b\ncatalog:\n  metastore_uri: thrift://metastore:9083\n")
    with pytest.raises(ConfigError, match="metastore_uri needs kind: hive"):
        load_config(path)
    hive = _write(tmp_path, "landing: a\nlakehouse: b\ncatalog:\n  kind: hive\n  metastore_uri: thrift://m:9083\n")
    assert load_config(hive).catalog.metastore_uri == "thrift://m:9083"


def _parsed(**sections: object) -> object:
    return parse_config({"landing": "a", "lakehouse": "b", **sections}, source="c.yaml")


@pytest.mark.parametrize(
    ("key", "sections", "message"),
    [
        ("publish.k", {"publish": {"k": 19}}, "publish.k = 19 is below 20: a change of the privacy promise; add"),
        (
            "privacy.pseudonym_period_days",
            {"privacy": {"pseudonym_period_days": 98}},
            "privacy.pseudonym_period_days = 98 is above 91 days: a change of the privacy promise; add",
        ),
    ],
)
def test_settings_past_the_privacy_promise_need_a_named_sign_off(
    key: str, sections: dict[str, dict[str, int]], message: str
) -> None:
    """k below its default and a key period above a quarter are refused in one line unless privacy.dpo_approved
    names them (issue 34); the values right at the promise need none."""
    with pytest.raises(ConfigError) as refused:
        _parsed(**sections)
    assert message in str(refused.value) and "\n" not in str(refused.value)
    privacy = {**sections.get("privacy", {}), "dpo_approved": [key]}
    assert _parsed(**{**sections, "privacy": privacy}).privacy.dpo_approved == (key,)  # type: ignore[attr-defined]
    assert _parsed(publish={"k": 20}, privacy={"pseudonym_period_days": 91}) is not None


@pytest.mark.parametrize(
    ("sections", "key"),
    [
        ({"privacy": {"pseudonym_period_days": 35_000, "dpo_approved": ["privacy.pseudonym_period_days"]}},
         "privacy.pseudonym_period_days"),  # the 35,000 days: refused even with a sign-off
        ({"mobility": {"max_gap_s": 604_800}}, "mobility.max_gap_s"),  # a window of a week
        ({"mobility": {"posterior": {"window_s": 86_400}}}, "mobility.posterior.window_s"),
        ({"publish": {"noise": {"epsilon": 100.0}}}, "publish.noise.epsilon"),
        ({"guards": {"max_dropped_share": 1.5}}, "guards.max_dropped_share"),
        ({"privacy": {"dpo_approved": ["publish.suppression_mode"]}}, "privacy.dpo_approved"),
    ],
)  # fmt: skip
def test_settings_outside_their_range_are_refused_naming_key_value_and_range(
    sections: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        _parsed(**sections)
    text = str(refused.value)
    assert f"key '{key}'" in text and "\n" not in text, text
