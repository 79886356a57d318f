"""Consumer-group state from the broker: is a worker in its group with partitions?"""

from __future__ import annotations

from stream.settings import Settings
from stream.topics import admin_client


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
