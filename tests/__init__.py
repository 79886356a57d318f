"""recstream's tests: ``unit/`` (no broker) and ``integration/`` (a real broker from the
session fixture in conftest.py, real worker processes, real scrapes).

May import: anything; nothing imports it.
"""
