"""Faults injected into real processes on a real broker, each run ending in the
accounting of every produced event: 0 missing, 0 doubled, every user's final window
exact and their newest event recommended, versions only going up, and every worker
that should still work alive. `make bench-faults` runs the same scenarios many times.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.fault_rig import stop_every_rig
from bench.faults import SCENARIOS
from stream.settings import Settings

pytestmark = pytest.mark.integration

QUICK = ["join", "kill", "poison", "trainer_kills", "broker_outage"]


@pytest.mark.parametrize("name", QUICK)
def test_fault_loses_nothing(name: str, kafka_settings: Settings, tmp_path: Path) -> None:
    try:
        result = SCENARIOS[name](kafka_settings, tmp_path, 0)
    finally:
        stop_every_rig()  # a scenario that raised half-way leaves no worker behind
    assert result.accounting.produced > 0
    assert result.ok, f"{result.accounting.summary()}\n{result.problems}\n{result.facts}"
