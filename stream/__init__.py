"""recstream's streaming side: everything that touches Kafka, by role. ``settings/``,
``messages/`` (what travels on each topic) and ``kafka/`` (client plumbing) are shared;
``sequencer/`` and ``trainer/`` are the two services; ``data/``, ``replay/``, ``local/``,
``metrics/``, ``demo/`` and ``cli/`` build on them. ``paths`` and ``network`` are leaves.

May import: model/ (from trainer/, replay/, cli/ and demo/ only, through its contract and
factories); never tests/ or bench/. Each package's own rules are in its docstring and
checked by tests/unit/test_layers.py.
"""
