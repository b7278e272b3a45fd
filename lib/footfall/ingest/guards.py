"""The circuit breaker on quarantine: a landing date that loses most of its rows to the checks stops the run.

A run that quarantines 93 % of its input and exits 0 marks a scheduler's night green while publishing nothing (issue
34). The shares come from the ingest audit's counts per date and reason, before anything is written; objections
never count (dropping an objector's rows is the product working). docs/ingest.md, "Guards".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from footfall import schemas as S
from footfall.config import GuardsConfig


class QuarantineGuardError(RuntimeError):
    """A landing date lost more of its rows to the checks than the guards allow: nothing was written (exit 9)."""


@dataclass(frozen=True)
class Breach:
    """One date past one threshold: `what` is a reason code, or "all" for every reason but objections."""

    date: dt.date
    what: str
    rows: int
    rows_read: int
    limit: float
    setting: str
    largest: str = ""  # for "all": the reason that took the most rows, as 'reason rows'

    @property
    def share(self) -> float:
        return self.rows / self.rows_read

    def describe(self) -> str:
        what = f"quarantined or dropped (most: {self.largest})" if self.what == "all" else self.what
        return (
            f"{self.date}: {self.share:.1%} of {self.rows_read:,} rows read {what}, "
            f"above guards.{self.setting} {self.limit:.0%}"
        )


def quarantine_breaches(audit_rows: Iterable[Mapping[str, Any]], *, guards: GuardsConfig) -> list[Breach]:
    """Return every threshold each date of the ingest audit (S.SILVER_INGEST_AUDIT rows) goes past, by date, the
    date's total first, then its reasons by share."""
    breaches: list[Breach] = []
    for row in sorted(audit_rows, key=lambda r: r[S.EVENT_DATE]):
        read, day = int(row[S.ROWS_READ]), row[S.EVENT_DATE]
        if read == 0:
            continue
        by_reason = dict(row[S.ROWS_BY_REASON])
        lost = read - int(row[S.ROWS_SILVER]) - int(row[S.ROWS_OPTED_OUT])
        found = []
        if lost / read > guards.max_dropped_share:
            rows, reason = max((int(n), r) for r, n in by_reason.items() if r != S.BAD_OPTED_OUT)
            largest = f"{reason} {rows:,}"
            found.append(Breach(day, "all", lost, read, guards.max_dropped_share, "max_dropped_share", largest))
        for reason in S.QUARANTINE_REASONS:
            rows = int(by_reason.get(reason, 0))
            if rows / read > guards.max_reason_share:
                found.append(Breach(day, reason, rows, read, guards.max_reason_share, "max_reason_share"))
        minors = int(row[S.ROWS_MINOR])
        if minors / read > guards.max_minor_share:
            found.append(Breach(day, S.REASON_MINOR, minors, read, guards.max_minor_share, "max_minor_share"))
        breaches += found[:1] + sorted(found[1:], key=lambda b: -b.share)
    return breaches


def check_quarantine(audit_rows: Iterable[Mapping[str, Any]], *, guards: GuardsConfig) -> dict[dt.date, str]:
    """Raise QuarantineGuardError in one line on the first breach unless guards.accept_quarantine; return, per date,
    the breaches accepted (for the audit row)."""
    breaches = quarantine_breaches(audit_rows, guards=guards)
    if breaches and not guards.accept_quarantine:
        first, more = breaches[0], len(breaches) - 1
        also = f" (and {more} more)" if more else ""
        raise QuarantineGuardError(
            f"ingest stopped: {first.describe()}{also}; nothing was written. Look at that date's landing files, then "
            "rerun with --accept-quarantine to ingest and publish it anyway"
        )
    accepted: dict[dt.date, list[str]] = {}
    for breach in breaches:
        accepted.setdefault(breach.date, []).append(breach.describe())
    return {day: "; ".join(parts) for day, parts in accepted.items()}
