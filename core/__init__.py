"""Digit Studio engine: pure Python and NumPy, never Qt (see docs/architecture.md)."""
