"""footfall: privacy-by-design mobility insights from mobile-network data, on Spark."""

from __future__ import annotations

__version__ = "0.1.0"
