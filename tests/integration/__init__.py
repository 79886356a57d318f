"""Integration tests: a real broker, real topics, real worker processes, real Prometheus
scrapes over HTTP; nothing lost is proven by accounting.

May import: stream/, model/, and tests/integration/processes.py.
"""
