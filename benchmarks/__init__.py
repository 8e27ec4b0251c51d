"""Benchmarks: ``python -m benchmarks NAME`` -> JSON with ratios against an in-run baseline."""
