"""The trainer service: ``recstream.sequences`` -> learner steps ->
``recstream.recommendations``, with its training budget, catch-up queue, checkpoints and
quality watch.

May import: settings/, messages/, kafka/, metrics/, model/ (its contract and factories,
never torch internals). Never sequencer/.
"""
