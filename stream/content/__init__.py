"""Item content: catalogue files, encoding catalogue records into the learner's content
updates (text encoder, cache by content hash), and the trainer's catalogue reader.

May import: settings/, messages/, kafka/, data/, model/ (the text encoder and the content
update types, never torch itself). Never sequencer/ or trainer/: the trainer starts the
reader.
"""
