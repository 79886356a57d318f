"""Consumer-group state from the broker: is a worker in its group with partitions?"""

from __future__ import annotations

import time

from kafka.errors import KafkaError

from stream.kafka.topics import admin_client
from stream.local.worker_process import WorkerProcess
from stream.settings import Settings


def groups_ready(settings: Settings, group_ids: list[str]) -> bool:
    """True when every group is Stable with at least one member holding partitions."""
    with admin_client(settings) as admin:
        groups = admin.describe_groups(group_ids)
    for group_id in group_ids:
        group = groups.get(group_id) or {}
        members = group.get("members") or []
        if group.get("group_state") != "Stable" or not members:
            return False
        if not any(m.get("member_assignment", {}).get("assigned_partitions") for m in members):
            return False
    return True


def wait_until_workers_ready(
    settings: Settings, workers: list[WorkerProcess], timeout_s: float = 120.0
) -> None:
    """Return once the sequencer's and the trainer's groups are ready; raise
    ``RuntimeError`` (with the log tail) if a worker exits first, or on timeout."""
    groups = [settings.sequencer.app_id, settings.trainer.app_id]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for worker in workers:
            if not worker.alive():
                raise RuntimeError(
                    f"the {worker.role} exited during start-up:\n{worker.log_tail()}"
                )
        try:
            if groups_ready(settings, groups):
                return
        except KafkaError:
            pass  # a young broker has no group coordinator yet
        time.sleep(0.5)
    raise RuntimeError(f"the workers did not join their consumer groups within {timeout_s:.0f} s")
