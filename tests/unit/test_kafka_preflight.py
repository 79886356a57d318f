"""The start-up connection check: one clear line instead of a long hang."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
from kafka.errors import SaslAuthenticationFailedError

from stream.kafka.preflight import KafkaUnavailableError, _AuthFailures, _explain, check_kafka
from stream.settings import KafkaSettings


def test_nothing_listening_fails_at_once() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        started = time.monotonic()
        with pytest.raises(KafkaUnavailableError, match="nothing accepts connections"):
            check_kafka(KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}"), timeout_s=20)
    assert time.monotonic() - started < 10


def test_a_listener_that_is_not_kafka_names_the_protocol_setting() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        stop = threading.Event()

        def accept_and_drop() -> None:
            server.settimeout(0.2)
            while not stop.is_set():
                try:
                    server.accept()[0].close()
                except OSError:
                    continue

        thread = threading.Thread(target=accept_and_drop, daemon=True)
        thread.start()
        kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{server.getsockname()[1]}")
        try:
            with pytest.raises(
                KafkaUnavailableError, match="did not answer with security_protocol"
            ):
                check_kafka(kafka, timeout_s=2)
        finally:
            stop.set()
            thread.join()


def test_a_refused_login_is_recognised_from_kafka_pythons_log_record() -> None:
    listener = _AuthFailures()
    logger = logging.getLogger("kafka.net.manager")
    logger.addHandler(listener)
    try:
        logger.error("Connection failed: %s", OSError("refused"))
        assert not listener.settled.is_set()
        error = SaslAuthenticationFailedError("Invalid username or password")
        logger.error("Connection failed: %s", error)
        logger.error("Connection failed: %s", OSError("refused"))
    finally:
        logger.removeHandler(listener)
    assert listener.errors == [error]
    assert listener.settled.is_set(), "the first refused login ends the check"
    kafka = KafkaSettings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                          sasl_username="ada", sasl_password="pw")  # fmt: skip
    message = _explain(kafka, error, listener.errors)
    assert "refused to authenticate user 'ada' with PLAIN" in message
    assert "pw" not in message.replace("password", "")
