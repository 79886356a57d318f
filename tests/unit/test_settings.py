"""Settings load from YAML, are frozen, and fail at start-up with one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from stream.cli.main import app
from stream.settings import Settings, SettingsError, load_settings
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("name", ["default.yaml", "gpu.yaml", "test.yaml"])
def test_shipped_config_files_load(name: str) -> None:
    settings = load_settings(REPO_ROOT / "configs" / name)
    assert settings.kafka.security_protocol == "PLAINTEXT"
    assert set(settings.topics.events) == {"view", "click", "purchase"}


def test_default_file_matches_built_in_defaults() -> None:
    # configs/default.yaml documents the defaults; drift between the two would mislead users.
    assert load_settings(REPO_ROOT / "configs" / "default.yaml") == Settings()


def test_missing_section_takes_defaults(tmp_path: Path) -> None:
    path = tmp_path / "partial.yaml"
    path.write_text("trainer:\n  batch_size: 7\n")
    settings = load_settings(path)
    assert settings.trainer.batch_size == 7
    assert settings.trainer.batch_timeout_ms == 200
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"


def test_settings_are_frozen() -> None:
    settings = load_settings(REPO_ROOT / "configs" / "test.yaml")
    with pytest.raises(ValidationError):
        settings.trainer.batch_size = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("kafka:\n  bootstrp_servers: x\n", "kafka.bootstrp_servers: unknown key"),
        ("kafak:\n  bootstrap_servers: x\n", "kafak: unknown key"),
        ("trainer:\n  batch_size: many\n", "trainer.batch_size: Input should be a valid integer"),
        (
            "trainer:\n  batch_size: 0\n",
            "trainer.batch_size: Input should be greater than or equal",
        ),
        ("model:\n  dropout: 1.5\n", "model.dropout: Input should be less than 1"),
        ("kafka:\n  security_protocol: TLS\n", "kafka.security_protocol: Input should be"),
        ("model:\n  hidden_size: 10\n  num_heads: 3\n", "model: Value error, hidden_size must"),
        (
            "model:\n  mixture_transition_scales: [2.0, 4.0]\n",
            "model.mixture_transition_scales: Value error, scales must be non-negative and "
            "include 1.0",
        ),
    ],
)
def test_bad_values_name_the_key_and_the_file(
    tmp_path: Path, yaml_text: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_sasl_without_credentials_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "sasl.yaml"
    path.write_text("kafka:\n  security_protocol: SASL_PLAINTEXT\n  sasl_mechanism: PLAIN\n")
    with pytest.raises(SettingsError, match="needs sasl_mechanism, sasl_username"):
        load_settings(path)


def test_environment_overrides_file_including_nested_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "file.yaml"
    path.write_text("kafka:\n  bootstrap_servers: from-file:1\n  client_id: file-client\n")
    monkeypatch.setenv("RECSTREAM_KAFKA__BOOTSTRAP_SERVERS", "from-env:2")
    monkeypatch.setenv("RECSTREAM_TRAINER__BATCH_SIZE", "64")
    settings = load_settings(path)
    assert settings.kafka.bootstrap_servers == "from-env:2"
    assert settings.kafka.client_id == "file-client"  # the rest of the section stays
    assert settings.trainer.batch_size == 64


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSTREAM_TRAINER__BATCH_SIZE", "-5")
    with pytest.raises(SettingsError) as caught:
        load_settings(REPO_ROOT / "configs" / "test.yaml")
    assert str(caught.value).startswith(
        "environment variable RECSTREAM_TRAINER__BATCH_SIZE: trainer.batch_size:"
    )


def test_password_is_not_shown_in_repr(tmp_path: Path) -> None:
    path = tmp_path / "sasl.yaml"
    path.write_text(
        "kafka:\n  security_protocol: SASL_PLAINTEXT\n  sasl_mechanism: PLAIN\n"
        "  sasl_username: alice\n  sasl_password: s3cret-value\n"
    )
    settings = load_settings(path)
    assert "s3cret-value" not in repr(settings)
    assert settings.kafka.sasl_password is not None
    assert settings.kafka.sasl_password.get_secret_value() == "s3cret-value"


_SASL = "kafka:\n  security_protocol: SASL_PLAINTEXT\n  sasl_mechanism: PLAIN\n  sasl_username: a\n"


def test_password_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-the-file\n")
    path = tmp_path / "sasl.yaml"
    path.write_text(_SASL + f"  sasl_password_file: {secret}\n")
    settings = load_settings(path)
    assert settings.kafka.sasl_password is not None
    assert settings.kafka.sasl_password.get_secret_value() == "from-the-file"  # newline gone
    assert "from-the-file" not in repr(settings)
    assert "from-the-file" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("  sasl_password_file: /nonexistent/pw\n", "cannot read"),
        ("  sasl_password: x\n  sasl_password_file: /etc/hostname\n", "not both"),
    ],
)
def test_bad_password_file_settings_name_the_key(tmp_path: Path, extra: str, expected: str) -> None:
    path = tmp_path / "sasl.yaml"
    path.write_text(_SASL + extra)
    with pytest.raises(SettingsError, match=f"kafka.*{expected}"):
        load_settings(path)


def test_a_badly_typed_password_is_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "sasl.yaml"
    path.write_text(_SASL + "  sasl_password: 9876543210\n")
    with pytest.raises(SettingsError, match=r"kafka\.sasl_password") as caught:
        load_settings(path)
    assert "9876543210" not in str(caught.value)


def test_a_sasl_local_broker_needs_sasl_plain_clients(tmp_path: Path) -> None:
    path = tmp_path / "broker.yaml"
    path.write_text("broker:\n  security_protocol: SASL_PLAINTEXT\n")
    with pytest.raises(SettingsError, match=r"kafka\.security_protocol SASL_PLAINTEXT"):
        load_settings(path)


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("kafka: [1, 2\n", "not valid YAML at line"),
        ("- a list\n", "the top level must be a mapping"),
    ],
)
def test_unreadable_files_fail_with_one_line(tmp_path: Path, yaml_text: str, expected: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml_text)
    with pytest.raises(SettingsError, match=expected):
        load_settings(path)


def test_missing_file_fails_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read settings file"):
        load_settings(tmp_path / "absent.yaml")


def test_cli_reports_config_error_in_one_line_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("broker:\n  prot: 1\n")
    result = CliRunner().invoke(app, ["broker", "status", "--config", str(path)])
    assert result.exit_code == 2
    output = result.output.strip()
    assert output == f"config error: {path}: broker.prot: unknown key"
    assert "Traceback" not in result.output
