"""The ``recstream`` command line."""
