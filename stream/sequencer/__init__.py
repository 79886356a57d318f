"""The sequencer service: event topics -> per-user windows -> ``recstream.sequences``.

May import: settings/, messages/, kafka/, metrics/. Never trainer/ or model/.
"""
