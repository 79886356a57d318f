"""Static checks of the files for Docker users (no Docker engine runs here or in CI):
every service, command, setting, path and port in them must exist and agree."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from stream.cli.main import app
from stream.settings import ENV_NESTED_DELIMITER, ENV_PREFIX, Settings, load_settings
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
GPU_OVERLAY = DEPLOY / "docker-compose.gpu.yml"
GROUP_OVERLAY = DEPLOY / "docker-compose.group.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
SERVICES = {"kafka", "topics", "sequencer", "trainer", "prometheus", "grafana"}
RECSTREAM_SERVICES = {"topics", "sequencer", "trainer"}


def _compose(path: Path = COMPOSE) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())  # also resolves the x- anchors
    return data


def _recstream_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    return {k: str(v) for k, v in env.items() if k.startswith(ENV_PREFIX)}


def test_compose_has_the_services_and_only_known_keys() -> None:
    compose = _compose()
    assert set(compose["services"]) == SERVICES
    allowed = {"image", "build", "restart", "environment", "command", "volumes", "ports",
               "depends_on", "healthcheck", "deploy", "stop_grace_period"}  # fmt: skip
    for name, service in compose["services"].items():
        assert set(service) <= allowed, f"{name}: unexpected keys {set(service) - allowed}"
        assert "image" in service, f"{name} has no image"
        for dependency in service.get("depends_on") or {}:
            assert dependency in compose["services"], f"{name} depends on unknown {dependency}"
    assert set(compose["volumes"]) >= {
        source.split(":")[0]
        for service in compose["services"].values()
        for source in service.get("volumes", [])
        if not source.startswith(".")
    }


def test_kafka_is_apaches_image_in_kraft_mode_and_matches_the_clients() -> None:
    services = _compose()["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "zookeeper" not in str(env).lower()
    advertised = env["KAFKA_ADVERTISED_LISTENERS"]
    for name in RECSTREAM_SERVICES:
        bootstrap = _recstream_env(services[name])["RECSTREAM_KAFKA__BOOTSTRAP_SERVERS"]
        assert f"//{bootstrap}" in advertised


@pytest.mark.parametrize("overlay", [None, GPU_OVERLAY, GROUP_OVERLAY])
def test_every_recstream_command_exists_in_the_cli(overlay: Path | None) -> None:
    compose = _compose()
    if overlay is not None:
        for name, extra in _compose(overlay)["services"].items():
            compose["services"][name] = {**compose["services"][name], **extra}
    runner = CliRunner()
    for name in RECSTREAM_SERVICES:
        command = compose["services"][name]["command"]
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, f"{name}: `recstream {' '.join(command)}`: {result.output}"
        config = command[command.index("--config") + 1]
        assert (REPO_ROOT / config).exists(), f"{name}: {config} is not in the repository"


def _settings_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, config: str) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings(REPO_ROOT / config)


def _key_exists(variable: str) -> bool:
    path = variable.removeprefix(ENV_PREFIX).lower().split(ENV_NESTED_DELIMITER)
    model: Any = Settings
    for part in path:
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return False
        model = fields[part].annotation
    return True


def _dockerfile_env() -> dict[str, str]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    return dict(re.findall(r"(RECSTREAM_[A-Z_]+)=(\S+)", text))


def test_every_environment_variable_is_a_setting_with_a_valid_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compose = _compose()
    overlay = _compose(GPU_OVERLAY)["services"]["trainer"]
    sources = {f"compose {n}": _recstream_env(compose["services"][n]) for n in RECSTREAM_SERVICES}
    sources["gpu overlay trainer"] = _recstream_env(overlay)
    sources["Dockerfile"] = _dockerfile_env()
    assert sources["Dockerfile"], "the Dockerfile sets the data folders"
    for where, env in sources.items():
        unknown = [variable for variable in env if not _key_exists(variable)]
        assert not unknown, f"{where}: no such setting: {unknown}"
        with monkeypatch.context() as patch:
            settings = _settings_env(
                {**sources["Dockerfile"], **env}, patch, "configs/default.yaml"
            )
        if "METRICS" in str(env):
            assert settings.metrics.sequencer_port == 9464 and settings.metrics.trainer_port == 9465


def test_ports_are_published_on_loopback_only() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"


def test_grafana_needs_an_admin_password_and_no_default() -> None:
    grafana = _compose()["services"]["grafana"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith(
        "${GRAFANA_ADMIN_PASSWORD:?"
    )


def test_mounted_files_exist_and_prometheus_scrapes_the_worker_services() -> None:
    compose = _compose()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.compose.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert jobs["recstream-sequencer"]["dns_sd_configs"][0]["names"] == ["sequencer"]
    assert jobs["recstream-sequencer"]["dns_sd_configs"][0]["port"] == 9464
    assert jobs["recstream-trainer"]["static_configs"][0]["targets"] == ["trainer:9465"]
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"


def test_gpu_overlay_reserves_one_nvidia_gpu_for_the_trainer_only() -> None:
    overlay = _compose(GPU_OVERLAY)["services"]
    assert set(overlay) == {"trainer"}
    devices = overlay["trainer"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]


def test_dockerfile_copies_what_exists_and_runs_the_cli_unprivileged() -> None:
    text = DOCKERFILE.read_text()
    for source in re.findall(r"^COPY (.+) \S+$", text, flags=re.MULTILINE):
        for part in source.split():
            assert (REPO_ROOT / part).exists(), f"COPY {part}: not in the repository"
    assert 'ENTRYPOINT ["recstream"]' in text
    assert "recstream = " in (REPO_ROOT / "pyproject.toml").read_text()
    assert re.search(r"^USER (?!root)\S+", text, flags=re.MULTILINE)


def test_group_overlay_runs_two_ranks_and_prometheus_scrapes_both() -> None:
    overlay = _compose(GROUP_OVERLAY)["services"]
    command = overlay["trainer"]["command"]
    ranks = int(command[command.index("--ranks") + 1])
    mounted = overlay["prometheus"]["volumes"][0].split(":")[0]
    assert (DEPLOY / mounted).exists()
    prometheus = yaml.safe_load((DEPLOY / mounted).read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    targets = jobs["recstream-trainer"]["static_configs"][0]["targets"]
    assert targets == [f"trainer:{9465 + rank}" for rank in range(ranks)]
    assert set(overlay["prometheus"]["volumes"][1:]) <= set(_compose()["services"]["prometheus"]
                                                            ["volumes"])  # fmt: skip
