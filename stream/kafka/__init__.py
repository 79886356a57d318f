"""Kafka and Faust plumbing the services share: client and Faust options, preflight,
topics, reading a topic, group lag, stuck partitions, the lossless consumer, partition
batches, the exit watchdog.

May import: settings/, messages/, metrics/. Never a service (sequencer/, trainer/) or
model/.
"""
