"""`footfall report`: the newest publication as one self-contained HTML page, read without Spark (docs/report.md)."""

from __future__ import annotations

from footfall.report.html import render_report, write_report

__all__ = ["render_report", "write_report"]
