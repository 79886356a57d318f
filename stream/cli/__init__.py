"""The ``recstream`` command line: each command parses its options and calls one function
of the package that does the work.

May import: any stream/ package and model/; nothing imports it but ``reference_docs``.
"""
