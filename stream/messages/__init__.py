"""What travels on each topic: raw events and their validation, dead letters, the per-user
window, sequence updates and their batches, recommendations. Pure data and its
(de)serialisation.

May import: settings/. Never a service, a Kafka client or model/.
"""
