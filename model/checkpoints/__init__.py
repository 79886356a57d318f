"""Checkpoints of a learner on disk: ``store`` (manifests, chains, verification; no torch
at import, so listing checkpoints stays light) and ``checkpointer`` (full and delta
checkpoints of a TransformerLearner, built by ``open_checkpointer``). Imports model/
only, never stream/ or Kafka."""
