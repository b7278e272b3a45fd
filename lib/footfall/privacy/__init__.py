"""Disclosure control: k on distinct devices, secondary suppression against differencing (docs/privacy.md)."""
