"""Bundled datasets, shipped as package data.

One folder per dataset holds its IDX files; `core.datasets` finds them with
`importlib.resources`, so they work from a checkout and from an installed wheel alike.
"""
