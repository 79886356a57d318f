"""Client options derived from settings, so every Kafka client connects the same way."""

from __future__ import annotations

from typing import Any

from stream.settings import KafkaSettings


def kafka_python_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's producer, consumer and admin client.

    Security settings are passed through unchanged; secrets never leave this dict.
    """
    return {
        "bootstrap_servers": kafka.bootstrap_servers.split(","),
        "client_id": kafka.client_id,
        "request_timeout_ms": kafka.request_timeout_ms,
        **security_options(kafka),
    }


def security_options(kafka: KafkaSettings) -> dict[str, Any]:
    """kafka-python's ``security_protocol``, ``sasl_*`` and ``ssl_*`` keyword arguments."""
    options: dict[str, Any] = {"security_protocol": kafka.security_protocol}
    if kafka.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = kafka.sasl_mechanism
        options["sasl_plain_username"] = kafka.sasl_username
        assert kafka.sasl_password is not None  # enforced by KafkaSettings validation
        options["sasl_plain_password"] = kafka.sasl_password.get_secret_value()
    if kafka.security_protocol.endswith("SSL"):
        for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(kafka, key)
            if value is not None:
                options[key] = str(value)
    return options
