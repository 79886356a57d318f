"""Prequential replay of an event file through a learner, offline (no Kafka), and its
plots.

May import: settings/, messages/, data/, metrics/, model/, trainer.learner_factory.
"""
