"""Baselines behind the same contract as the transformer: how we prove it is worth it.

May import: the rest of model/; never stream/.
"""
