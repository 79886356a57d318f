"""Running recstream on one machine: the local broker and Prometheus (one pid-file
service), worker processes, the run sandbox, and the loss accounting the demo, tests and
benchmarks share.

May import: any stream/ package but cli/ and demo/; never tests/.
"""
