"""What every benchmark shares: the machine it ran on, where results go, percentiles."""

from __future__ import annotations

import json
import os
import platform
import time
from functools import cache
from pathlib import Path
from typing import Any

from stream.metrics.percentiles import nearest_rank as percentile
from stream.paths import REPO_ROOT

__all__ = [
    "RESULTS", "cpu_seconds", "machine", "machine_tag", "machine_ticks", "peak_rss_mb",
    "percentile", "stamp", "write_result",
]  # fmt: skip

RESULTS = REPO_ROOT / "bench" / "results"


@cache
def machine() -> dict[str, Any]:
    """Cores, CPU model and GPU (if torch sees one): recorded with every result."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory_gb, 1),
        "gpu": gpu,
        "python": platform.python_version(),
    }


def machine_tag() -> str:
    """Short name for result files: <cores>c-<cpu vendor>[-<gpu>]."""
    info = machine()
    cpu = str(info["cpu_model"]).split()[0].lower()
    gpu = f"-{str(info['gpu']).split()[-1].lower()}" if info["gpu"] else ""
    return f"{info['cpus']}c-{cpu}{gpu}"


def stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def write_result(name: str, data: dict[str, Any], when: str | None = None) -> Path:
    """bench/results/<name>-<time>.json with the machine recorded next to the figures."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{when or stamp()}.json"
    payload = {"benchmark": name, "machine": machine(), **data}
    out.write_text(json.dumps(payload, indent=2, default=str))
    return out


def peak_rss_mb(pid: int | None) -> float:
    """A live process's peak resident memory (VmHWM), MB; NaN once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds a live process has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)
