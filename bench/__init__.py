"""Benchmarks: scripts that print a table and write bench/results/<name>-<time>.json (and
PNGs); speed and memory are measured here, never asserted in tests. NOTES.md keeps what
each run showed.

May import: stream/ (its sandbox in stream/local/ for brokers and isolated settings) and
model/; never tests/.
"""
