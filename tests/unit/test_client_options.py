"""Security settings reach both kinds of client from one place."""

from __future__ import annotations

from pathlib import Path

import faust

from stream.kafka.client_options import kafka_python_options
from stream.kafka.faust_options import faust_app_options
from stream.settings import load_settings
from tests.conftest import TEST_CONFIG

SASL = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "ada", "sasl_password": "pw-9"}  # fmt: skip


def test_kafka_python_clients_get_the_sasl_settings() -> None:
    options = kafka_python_options(load_settings(TEST_CONFIG, kafka=SASL).kafka)
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("ada", "pw-9")


def test_faust_apps_get_sasl_credentials(tmp_path: Path) -> None:
    settings = load_settings(TEST_CONFIG, kafka=SASL)
    credentials = faust_app_options(settings, tmp_path)["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.username == "ada" and credentials.password == "pw-9"
    assert credentials.mechanism.value == "SCRAM-SHA-512"


def test_plaintext_faust_apps_get_no_credentials(tmp_path: Path) -> None:
    options = faust_app_options(load_settings(TEST_CONFIG), tmp_path)
    assert options["broker_credentials"] is None
    assert (
        kafka_python_options(load_settings(TEST_CONFIG).kafka)["security_protocol"] == "PLAINTEXT"
    )
