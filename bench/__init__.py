"""Benchmarks, run as modules (``python -m bench.train_speed``); not tests."""
