"""A local Prometheus server scraping this host's recstream workers.

The binaries come from Debian's ``prometheus`` package: ``prometheus`` and
``promtool`` on PATH when the package is installed, otherwise the package is
fetched once with ``apt-get download`` and unpacked (``dpkg-deb -x``) into the
per-user cache, as the broker's jars are. Unpacking instead of ``apt-get install``
needs no root and starts no system service on port 9090. Both programs are
statically linked Go binaries, so nothing else from the package is needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stream.local.pid_service import PidService
from stream.network import port_is_free
from stream.paths import REPO_ROOT
from stream.settings import MetricsSettings, PrometheusSettings

JOBS = {"recstream-sequencer": "sequencer_port", "recstream-trainer": "trainer_port"}


class PrometheusError(Exception):
    """A Prometheus problem, phrased as the one line the user should see."""


@dataclass(frozen=True)
class PrometheusTools:
    prometheus: Path
    promtool: Path


def _run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def find_tools(cache_dir: Path) -> PrometheusTools | None:
    """Installed binaries (PATH first, then the cache), or None."""
    on_path = shutil.which("prometheus"), shutil.which("promtool")
    if on_path[0] and on_path[1]:
        return PrometheusTools(Path(on_path[0]), Path(on_path[1]))
    unpacked = cache_dir.expanduser() / "prometheus-debian" / "usr" / "bin"
    if (unpacked / "prometheus").exists() and (unpacked / "promtool").exists():
        return PrometheusTools(unpacked / "prometheus", unpacked / "promtool")
    return None


def install_tools(cache_dir: Path) -> PrometheusTools:
    """Return the binaries, fetching Debian's package into ``cache_dir`` when missing."""
    found = find_tools(cache_dir)
    if found is not None:
        return found
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise PrometheusError(
                f"prometheus/promtool are not installed and '{tool}' is missing: install "
                "Prometheus 2.x (its `prometheus` and `promtool`) and put them on PATH"
            )
    target = cache_dir.expanduser() / "prometheus-debian"
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    result = _run(["apt-get", "download", "prometheus"], cwd=staging)
    if result.returncode != 0 and os.geteuid() == 0:
        _run(["apt-get", "update", "-qq"])  # a fresh machine may have no package lists yet
        result = _run(["apt-get", "download", "prometheus"], cwd=staging)
    debs = sorted(staging.glob("prometheus_*.deb"))
    if result.returncode != 0 or not debs:
        shutil.rmtree(staging, ignore_errors=True)
        last = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
        raise PrometheusError(f"`apt-get download prometheus` failed: {last[0][:300]}")
    unpacked = _run(["dpkg-deb", "-x", str(debs[0]), str(staging / "root")])
    if unpacked.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise PrometheusError(f"unpacking {debs[0].name} failed: {unpacked.stderr.strip()[:300]}")
    with contextlib.suppress(OSError):  # another process unpacked it meanwhile: keep theirs
        (staging / "root").rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    installed = find_tools(cache_dir)
    if installed is None:
        raise PrometheusError(f"{debs[0].name} did not contain usr/bin/prometheus and promtool")
    return installed


def config_source(settings: PrometheusSettings) -> Path:
    """The configured prometheus.yml (relative paths: from the working directory, else
    from the checkout, so commands work from any folder)."""
    path = settings.config.expanduser()
    if path.is_absolute() or path.exists():
        return path
    return REPO_ROOT / path


def render_config(settings: PrometheusSettings, metrics: MetricsSettings, out_dir: Path) -> Path:
    """The shipped prometheus.yml with this host's metrics ports and absolute rule paths."""
    source = config_source(settings)
    try:
        config: dict[str, Any] = yaml.safe_load(source.read_text())
    except OSError as exc:
        raise PrometheusError(f"{source}: cannot read ({exc.strerror})") from None
    interval = f"{settings.scrape_interval_s:g}s"
    config.setdefault("global", {})["scrape_interval"] = interval
    config["global"]["evaluation_interval"] = interval
    rules = config.get("rule_files", [])
    config["rule_files"] = [str((source.parent / rule).resolve()) for rule in rules]
    for job in config.get("scrape_configs", []):
        port_key = JOBS.get(job.get("job_name", ""))
        if port_key is None:
            continue
        target = f"{metrics.host}:{getattr(metrics, port_key)}"
        for static in job.get("static_configs", []):
            static["targets"] = [target]
    out_dir.mkdir(parents=True, exist_ok=True)
    rendered = out_dir / "prometheus.yml"
    rendered.write_text(yaml.safe_dump(config, sort_keys=False))
    return rendered


def promtool_check(tools: PrometheusTools, config: Path) -> str:
    """``promtool check config`` (which also checks its rule files); raises on a problem."""
    result = _run([str(tools.promtool), "check", "config", str(config)])
    if result.returncode != 0:
        problem = (result.stdout + result.stderr).strip()
        raise PrometheusError(f"promtool rejects {config}: {problem}")
    return result.stdout


@dataclass(frozen=True)
class PrometheusStatus:
    running: bool
    pid: int | None
    url: str
    log_file: Path


class LocalPrometheus:
    """Install, configure, start, probe, query and stop one local Prometheus."""

    def __init__(self, settings: PrometheusSettings, metrics: MetricsSettings) -> None:
        self.settings, self.metrics = settings, metrics
        self.data_dir = settings.data_dir.expanduser().resolve()
        self.pid_file = self.data_dir / "prometheus.pid"
        self.log_file = self.data_dir / "prometheus.log"
        self.service = PidService(self.pid_file, self.log_file, b"prometheus", 30.0)
        self.url = f"http://{settings.host}:{settings.port}"

    def status(self) -> PrometheusStatus:
        pid = self.service.pid()
        return PrometheusStatus(pid is not None, pid, self.url, self.log_file)

    def start(self) -> bool:
        """Start and wait until ready; False when one already runs from this data_dir."""
        if self.status().running:
            return False
        if not port_is_free(self.settings.host, self.settings.port):
            raise PrometheusError(
                f"port {self.settings.host}:{self.settings.port} is already in use; stop what "
                "holds it or set prometheus.port"
            )
        tools = install_tools(self.settings.cache_dir)
        config = render_config(self.settings, self.metrics, self.data_dir)
        promtool_check(tools, config)
        command = [
            str(tools.prometheus), f"--config.file={config}",
            f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
            f"--storage.tsdb.retention.time={self.settings.retention_hours}h",
            f"--web.listen-address={self.settings.host}:{self.settings.port}",
        ]  # fmt: skip
        problem = self.service.launch(command, self.ready, self.settings.start_timeout_s, 0.3)
        if problem is not None:
            raise PrometheusError(f"prometheus at {self.url} {problem}; see {self.log_file}")
        return True

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> bool:
        return self.service.stop()

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path> and return its ``data`` (raises on an API error)."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as reply:
                body = json.loads(reply.read())
        except urllib.error.HTTPError as exc:  # 400/422: a bad query, explained in the body
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('error', body)}")
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result vector."""
        data = self.api("query", query=promql)
        result: list[dict[str, Any]] = data["result"]
        return result
