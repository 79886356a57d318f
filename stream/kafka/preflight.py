"""Connect once before a process starts, so a wrong address or password is one clear line.

kafka-python and aiokafka (under Faust) both turn a rejected SASL login into a
generic "Unable to bootstrap" after their timeout, and a Faust worker keeps
retrying forever. kafka-python's connection manager does record the broker's
answer: it logs ``Connection lost: <error>`` with the
``SaslAuthenticationFailedError`` instance as the argument (kafka/net/connection.py,
kafka-python 3.0). The preflight listens for that record while it bootstraps, and
stops at the first one.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import AuthorizationError, KafkaError, SaslAuthenticationFailedError

from stream.kafka.client_options import kafka_python_options
from stream.network import accepts_connections
from stream.settings import KafkaSettings


class KafkaUnavailableError(Exception):
    """The cluster cannot be used with these settings; the message says which setting."""


# kafka-python 3.0.12 drops the bytes of a read that also sees the socket close
# (kafka/net/transport.py `_sock_recv` returns data and an error; the reader aborts
# on the error without handing the data over). The broker answers a refused login
# and closes at once, so about half the refusals arrive as a bare "socket
# disconnected". Retrying the login every 250 ms instead of backing off up to 30 s
# makes a named refusal near-certain within the timeout.
_LOGIN_RETRY_MS = 250


class _AuthFailures(logging.Handler):
    """Collects the refused logins kafka-python logs; sets ``settled`` at the first."""

    def __init__(self, settled: threading.Event | None = None) -> None:
        super().__init__(logging.DEBUG)
        self.errors: list[KafkaError] = []
        self.settled = settled or threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        args: Any = record.args if isinstance(record.args, tuple) else (record.args,)
        found = [
            a for a in args if isinstance(a, SaslAuthenticationFailedError | AuthorizationError)
        ]
        if found:
            self.errors.extend(found)
            self.settled.set()


def check_kafka(kafka: KafkaSettings, timeout_s: float | None = None) -> None:
    """Bootstrap and list topics once; raise :class:`KafkaUnavailableError` on failure.

    Waits at most ``timeout_s`` (default: kafka.request_timeout_ms, at most 30 s), and
    no longer than the broker's first refused login.
    """
    timeout_s = timeout_s or min(kafka.request_timeout_ms / 1000, 30.0)
    _check_reachable(kafka, min(timeout_s, 5.0))
    settled = threading.Event()
    listener = _AuthFailures(settled)
    kafka_logger = logging.getLogger("kafka")
    kafka_logger.addHandler(listener)
    # The records must reach the handler even when the user's log level is WARNING.
    level = kafka_logger.level
    kafka_logger.setLevel(min(level or logging.ERROR, logging.ERROR))
    attempt = _Bootstrap(kafka_python_options(kafka), int(timeout_s * 1000), settled)
    try:
        # A daemon thread: on a refused login the client keeps retrying until its own
        # timeout, and that must not hold the process (it exits with the error).
        threading.Thread(target=attempt.run, name="kafka-preflight", daemon=True).start()
        settled.wait(timeout_s + 5.0)
    finally:
        kafka_logger.removeHandler(listener)
        kafka_logger.setLevel(level)
    if listener.errors or attempt.error is not None or not attempt.done:
        error = attempt.error or KafkaError(f"no answer within {timeout_s:.0f} s")
        raise KafkaUnavailableError(_explain(kafka, error, listener.errors))


class _Bootstrap:
    """One admin-client bootstrap and topic listing; sets ``settled`` when it ends."""

    def __init__(self, options: dict[str, Any], timeout_ms: int, settled: threading.Event):
        self.options = {**options, "request_timeout_ms": timeout_ms}
        self.timeout_ms = timeout_ms
        self.settled = settled
        self.done = False
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            admin = KafkaAdminClient(
                **self.options,
                bootstrap_timeout_ms=self.timeout_ms,
                reconnect_backoff_max_ms=_LOGIN_RETRY_MS,
            )
            try:
                admin.list_topics()
            finally:
                admin.close()
        except Exception as exc:  # noqa: BLE001 - reported by the caller, with the setting to check
            self.error = exc
        finally:
            self.done = True
            self.settled.set()


def _check_reachable(kafka: KafkaSettings, timeout_s: float) -> None:
    """Fail in seconds, not after the client's whole timeout, when nothing listens."""
    if any(accepts_connections(s, timeout_s) for s in kafka.bootstrap_servers.split(",")):
        return
    raise KafkaUnavailableError(
        f"nothing accepts connections at kafka.bootstrap_servers {kafka.bootstrap_servers}: "
        "is the broker running (`recstream broker start` for the local one)?"
    )


def _explain(kafka: KafkaSettings, error: Exception, auth_errors: list[KafkaError]) -> str:
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
