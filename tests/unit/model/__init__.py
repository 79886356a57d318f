"""Unit tests of model/ (no Kafka anywhere).

May import: model/ and tests/unit/model/helpers.py.
"""
