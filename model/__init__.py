"""recstream's model side: everything that touches torch and nothing that touches Kafka.
``contract`` is the only seam the stream side uses (with ``registry`` and
``learner_config`` to build learners); the transformer learner composes its item table,
scoring, losses and replay buffer; ``checkpoints/`` stores it.

May import: torch, transformers, safetensors, numpy; never stream/, bench/, tests/ or a
Kafka client.
"""
