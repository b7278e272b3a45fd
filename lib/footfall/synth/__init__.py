"""The synthetic city: a generator of operator exports with the ground truth real data never has."""

from __future__ import annotations

from footfall.synth.generate import GenerationReport, generate_city
from footfall.synth.options import GenerateOptions

__all__ = ["GenerateOptions", "GenerationReport", "generate_city"]
