"""A local single-node Apache Kafka broker (KRaft), run from Maven Central jars.

``recstream broker start|stop|status`` and the test fixtures both go through
:class:`LocalBroker`, so tests exercise exactly what users run.
"""

from __future__ import annotations

import base64
import os
import shutil
import string
import subprocess
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stream.local.pid_service import PidService
from stream.network import accepts_connections, port_is_free
from stream.paths import REPO_ROOT
from stream.settings import BrokerSettings, KafkaSettings, Settings

DEPLOY_DIR = REPO_ROOT / "deploy" / "kafka"
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
_READY_MARKER = "COMPLETE"


def new_cluster_id() -> str:
    """A KRaft cluster id: a URL-safe base64 UUID, as `kafka-storage random-uuid` makes.

    Like Kafka's ``Uuid.randomUuid`` it never starts with "-": the storage tool would
    read such an id as an option (it failed one format in 64 before this).
    """
    while True:
        raw = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not raw.startswith("-"):
            return raw


class BrokerError(Exception):
    """A broker problem, phrased as the one line the user should see."""


def kafka_version(pom: Path = DEPLOY_DIR / "pom.xml") -> str:
    """The Kafka version pinned in ``deploy/kafka/pom.xml``."""
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", _POM_NS)
    if node is None or not node.text:
        raise BrokerError(f"{pom}: no <kafka.version> property")
    return node.text.strip()


def _require_tool(name: str, why: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BrokerError(f"'{name}' not found on PATH; it is needed to {why}")
    return found


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    log_file: Path


class LocalBroker:
    """Fetch, format, start, probe and stop one local broker."""

    def __init__(self, settings: BrokerSettings, kafka: KafkaSettings | None = None) -> None:
        """``kafka``: the clients' settings; a SASL broker accepts their credentials."""
        self.settings = settings
        self.kafka = kafka
        self.version = kafka_version()
        self.cache_dir = settings.cache_dir.expanduser() / f"kafka-{self.version}"
        self.data_dir = settings.data_dir.expanduser().resolve()
        self.pid_file = self.data_dir / "broker.pid"
        self.log_file = self.data_dir / "broker.log"
        self.service = PidService(
            self.pid_file, self.log_file, b"kafka.Kafka", settings.stop_timeout_s
        )
        self.bootstrap = f"{settings.host}:{settings.port}"
        if settings.security_protocol == "SASL_PLAINTEXT" and (
            kafka is None or kafka.sasl_username is None or kafka.sasl_password is None
        ):
            raise BrokerError(
                "broker.security_protocol SASL_PLAINTEXT needs kafka.sasl_username and "
                "kafka.sasl_password (the one user the local broker accepts)"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalBroker:
        return cls(settings.broker, settings.kafka)

    def _probe_options(self) -> dict[str, Any]:
        """Security options for the readiness probe: the clients' own, on a SASL broker."""
        if self.settings.security_protocol == "PLAINTEXT" or self.kafka is None:
            return {}
        from stream.kafka.client_options import security_options

        return security_options(self.kafka)

    # -- jars ---------------------------------------------------------------

    @property
    def libs_dir(self) -> Path:
        return self.cache_dir / "libs"

    def jars_cached(self) -> bool:
        return (self.cache_dir / _READY_MARKER).exists()

    def fetch_jars(self) -> bool:
        """Copy the broker jars into the per-user cache once; True when it downloaded."""
        if self.jars_cached():
            return False
        mvn = _require_tool("mvn", f"download Apache Kafka {self.version} once")
        staging = self.cache_dir.with_name(f"{self.cache_dir.name}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        command = [
            mvn, "-B", "-q", "-f", str(DEPLOY_DIR / "pom.xml"),
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={staging / 'libs'}",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any((staging / "libs").glob("kafka_*.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            last = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
            raise BrokerError(
                f"downloading Apache Kafka {self.version} with Maven failed "
                f"(exit {result.returncode}): {last[0][:300]}"
            )
        (staging / _READY_MARKER).write_text(self.version)
        self.cache_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            staging.rename(self.cache_dir)
        except OSError:
            # Another start filled the cache meanwhile; theirs is as good as ours.
            shutil.rmtree(staging, ignore_errors=True)
            if not self.jars_cached():
                raise BrokerError(f"cannot populate the jar cache {self.cache_dir}") from None
        return True

    # -- lifecycle ----------------------------------------------------------

    def _java(self, *args: str, log: Path | None = None) -> list[str]:
        java = _require_tool("java", "run the Kafka broker (Java 17 or newer)")
        return [
            java, f"-Xmx{self.settings.heap_mb}m", f"-Xms{min(256, self.settings.heap_mb)}m",
            f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'log4j2.yaml'}",
            "-cp", f"{self.libs_dir}/*", *args,
        ]  # fmt: skip

    def _sasl_lines(self) -> str:
        if self.settings.security_protocol == "PLAINTEXT":
            return ""
        assert self.kafka and self.kafka.sasl_username and self.kafka.sasl_password  # __init__
        user, password = self.kafka.sasl_username, self.kafka.sasl_password.get_secret_value()
        if any(c in f"{user}{password}" for c in '"\\\n'):
            raise BrokerError(
                "the local SASL broker cannot take a username or password containing "
                "a double quote, a backslash or a newline"
            )
        # One PLAIN user, who is also the broker's own inter-broker identity.
        jaas = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{user}" password="{password}" user_{user}="{password}";'
        )
        return (
            "sasl.enabled.mechanisms=PLAIN\n"
            "sasl.mechanism.inter.broker.protocol=PLAIN\n"
            f"listener.name.sasl_plaintext.plain.sasl.jaas.config={jaas}\n"
        )

    def _render_config(self) -> Path:
        template = string.Template((DEPLOY_DIR / "server.properties.template").read_text())
        config = self.data_dir / "server.properties"
        text = template.substitute(
            host=self.settings.host,
            port=self.settings.port,
            controller_port=self.settings.resolved_controller_port,
            listener=self.settings.security_protocol,
            sasl_lines=self._sasl_lines(),
            log_dir=self.data_dir / "kraft-logs",
        )
        # It may hold the SASL password: readable by its owner only, from the first byte.
        config.unlink(missing_ok=True)
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        return config

    def _format_storage(self, config: Path) -> None:
        if (self.data_dir / "kraft-logs" / "meta.properties").exists():
            return  # formatted before: keep the data that is there
        cluster_id = self.data_dir / "cluster.id"
        if not cluster_id.exists():
            cluster_id.write_text(new_cluster_id())
        command = self._java(
            "kafka.tools.StorageTool", "format", "--ignore-formatted",
            "-t", cluster_id.read_text().strip(), "-c", str(config),
        )  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            detail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
            raise BrokerError(f"formatting KRaft storage in {self.data_dir} failed: {detail[0]}")

    def status(self) -> BrokerStatus:
        pid = self.service.pid()
        return BrokerStatus(pid is not None, pid, self.bootstrap, self.log_file)

    def start(self) -> bool:
        """Start the broker and wait until it answers; False when one already ran."""
        if self.status().running:
            return False
        _require_tool("java", "run the Kafka broker (Java 17 or newer)")
        for port in (self.settings.port, self.settings.resolved_controller_port):
            if not port_is_free(self.settings.host, port):
                raise BrokerError(
                    f"port {self.settings.host}:{port} is already in use; stop what holds it "
                    "or set broker.port / broker.controller_port"
                )
        self.fetch_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self._render_config()
        self._format_storage(config)
        problem = self.service.launch(
            self._java("kafka.Kafka", str(config)),
            lambda: broker_answers(self.bootstrap, options=self._probe_options()),
            self.settings.start_timeout_s,
            poll_s=0.5,
        )
        if problem is not None:
            raise BrokerError(f"the broker on {self.bootstrap} {problem}; see {self.log_file}")
        return True

    def stop(self) -> bool:
        """Stop the broker gracefully, then forcefully; False when none ran."""
        return self.service.stop()


def broker_answers(
    bootstrap: str, timeout_s: float = 2.0, options: dict[str, Any] | None = None
) -> bool:
    """True when a broker at ``bootstrap`` answers a metadata request.

    ``options``: kafka-python security options (``security_protocol``, ``sasl_*``).
    """
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    # A refused TCP connect is the common "not yet" answer; kafka-python's own
    # bootstrap would back off exponentially for up to bootstrap_timeout_ms instead.
    if not accepts_connections(bootstrap, timeout_s):
        return False
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout_s * 1000),
            bootstrap_timeout_ms=int(timeout_s * 1000),
            **(options or {}),
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.describe_cluster()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()
