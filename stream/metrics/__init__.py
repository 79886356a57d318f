"""Prometheus plumbing the services share: serving a registry, scraping an endpoint,
percentiles. The metric sets themselves live with their service (``sequencer.metrics``,
``trainer.metrics``).

May import: nothing of recstream but settings/.
"""
