"""Benchmarks for work_compat (not tests). Run each as ``python -m bench.<name>`` from the repo root."""
