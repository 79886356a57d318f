"""Unit tests: no broker, no network beyond 127.0.0.1 sockets a test opens itself; fakes
live here only.

May import: stream/, model/, bench/ (for the benchmarks' own logic).
"""
