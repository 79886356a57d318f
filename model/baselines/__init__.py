"""Baselines behind the same contract as the transformer: how we prove it is worth it."""
