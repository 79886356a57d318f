"""Serve a registry on ``/metrics`` (loopback by default) from a daemon thread."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, start_http_server

log = logging.getLogger(__name__)


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> int:
    """Start the endpoint and return the port it listens on (``port=0`` picks a free one)."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    bound = int(server.server_port)
    log.info("metrics on http://%s:%d/metrics", host, bound)
    return bound
