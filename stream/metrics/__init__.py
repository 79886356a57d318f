"""Typed Prometheus metric containers, each created against a registry."""
