"""Connect once before a process starts, so a wrong address or password is one clear line.

kafka-python and aiokafka (under Faust) both turn a rejected SASL login into a
generic "Unable to bootstrap" after their timeout, and a Faust worker keeps
retrying forever. kafka-python's connection manager does record the broker's
answer: it logs ``Connection failed: <error>`` with the
``SaslAuthenticationFailedError`` instance as the argument (kafka/net/manager.py,
kafka-python 3.0). The preflight listens for that record while it bootstraps.
"""

from __future__ import annotations

import logging
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import AuthorizationError, KafkaError, SaslAuthenticationFailedError

from stream.kafka_config import kafka_python_options
from stream.local_process import accepts_connections
from stream.settings import KafkaSettings


class KafkaUnavailableError(Exception):
    """The cluster cannot be used with these settings; the message says which setting."""


_AUTH_ERRORS = (SaslAuthenticationFailedError, AuthorizationError)


class _AuthFailures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.errors: list[KafkaError] = []

    def emit(self, record: logging.LogRecord) -> None:
        args: Any = record.args if isinstance(record.args, tuple) else (record.args,)
        found = [
            a for a in args if isinstance(a, SaslAuthenticationFailedError | AuthorizationError)
        ]
        self.errors.extend(found)


def check_kafka(kafka: KafkaSettings, timeout_s: float | None = None) -> None:
    """Bootstrap and list topics once; raise :class:`KafkaUnavailableError` on failure.

    Waits at most ``timeout_s`` (default: kafka.request_timeout_ms, at most 30 s).
    """
    timeout_s = timeout_s or min(kafka.request_timeout_ms / 1000, 30.0)
    _check_reachable(kafka, min(timeout_s, 5.0))
    listener = _AuthFailures()
    kafka_logger = logging.getLogger("kafka")
    kafka_logger.addHandler(listener)
    # The records must reach the handler even when the user's log level is WARNING.
    level = kafka_logger.level
    kafka_logger.setLevel(min(level or logging.ERROR, logging.ERROR))
    options = kafka_python_options(kafka)
    timeout_ms = int(timeout_s * 1000)
    try:
        admin = KafkaAdminClient(
            **{**options, "request_timeout_ms": timeout_ms}, bootstrap_timeout_ms=timeout_ms
        )
        try:
            admin.list_topics()
        finally:
            admin.close()
    except KafkaError as exc:
        raise KafkaUnavailableError(_explain(kafka, exc, listener.errors)) from None
    finally:
        kafka_logger.removeHandler(listener)
        kafka_logger.setLevel(level)


def _check_reachable(kafka: KafkaSettings, timeout_s: float) -> None:
    """Fail in seconds, not after the client's whole timeout, when nothing listens."""
    if any(accepts_connections(s, timeout_s) for s in kafka.bootstrap_servers.split(",")):
        return
    raise KafkaUnavailableError(
        f"nothing accepts connections at kafka.bootstrap_servers {kafka.bootstrap_servers}: "
        "is the broker running (`recstream broker start` for the local one)?"
    )


def _explain(kafka: KafkaSettings, error: KafkaError, auth_errors: list[KafkaError]) -> str:
    where = f"Kafka at {kafka.bootstrap_servers}"
    if auth_errors:
        user = kafka.sasl_username or "(none)"
        return (
            f"{where} refused to authenticate user {user!r} with {kafka.sasl_mechanism} "
            f"over {kafka.security_protocol} ({auth_errors[-1]}): check kafka.sasl_username "
            "and kafka.sasl_password (or kafka.sasl_password_file)"
        )
    hint = (
        "is the broker running and is kafka.bootstrap_servers right?"
        if kafka.security_protocol == "PLAINTEXT"
        else "is kafka.security_protocol what the broker's listener expects, and are "
        "kafka.sasl_username / kafka.sasl_password right?"
    )
    return (
        f"{where} did not answer with security_protocol {kafka.security_protocol} ({error}): {hint}"
    )
