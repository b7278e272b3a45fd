"""Configuration: conf/<env>.yaml parsed once into frozen, typed objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from footfall.jars import repo_root


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Config(_Frozen):
    """The whole configuration of a footfall deployment."""

    landing: Path = Field(description="where operator exports arrive; relative paths are relative to the repo root")
    lakehouse: Path = Field(description="where the Delta tables live; relative paths are relative to the repo root")
    timezone: str = Field(default="Europe/Berlin", description="local time of the zones, for every reported hour")


def _key_of(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    key = _key_of(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return f"key '{key}' is missing"
    if kind == "extra_forbidden":
        return f"key '{key}' is not a known setting"
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
    return config.model_copy(update={"landing": root / config.landing, "lakehouse": root / config.lakehouse})
