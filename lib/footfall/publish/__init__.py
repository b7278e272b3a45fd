"""Gold: stage every published table from silver, validate it, and only then write it (docs/outputs.md)."""
