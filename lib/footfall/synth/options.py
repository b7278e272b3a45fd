"""Options of `footfall generate`, parsed once into a frozen object."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# The pipeline's default too (mobility config): a stay this long or longer is a visit, shorter a pass-by.
DEFAULT_MIN_VISIT_S = 300


@dataclass(frozen=True)
class GenerateOptions:
    """What to generate: how many people, which days, which seed, which export mode, how many bad rows."""

    subscribers: int = 2000
    days: int = 1
    start: dt.date = dt.date(2026, 3, 2)
    seed: int = 42
    mode: Literal["xdr", "cdr"] = "xdr"
    bad_row_rate: float = 0.01
    timezone: str = "Europe/Berlin"
    min_visit_s: int = DEFAULT_MIN_VISIT_S
    opt_out_rate: float = 0.03
    cells_file: Path | None = None
    zones_file: Path | None = None
    districts_file: Path | None = None

    def __post_init__(self) -> None:
        if self.subscribers < 1:
            raise ValueError(f"--subscribers must be at least 1, got {self.subscribers}")
        if not 1 <= self.days <= 366:
            raise ValueError(f"--days must be between 1 and 366, got {self.days}")
        if self.mode not in ("xdr", "cdr"):
            raise ValueError(f"--mode must be xdr or cdr, got {self.mode!r}")
        if not 0.0 <= self.bad_row_rate < 0.5:
            raise ValueError(f"--bad-row-rate must be in [0, 0.5), got {self.bad_row_rate}")
        if self.min_visit_s <= 0:
            raise ValueError(f"--min-visit-s must be positive, got {self.min_visit_s}")
        if (self.cells_file is None) != (self.districts_file is None):  # checked here, before any JVM starts
            raise ValueError("a real layout needs both --cells and --districts")

    @property
    def end(self) -> dt.date:
        """Return the first date after the generated period."""
        return self.start + dt.timedelta(days=self.days)
