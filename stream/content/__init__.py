"""Item content: catalogue files, encoding catalogue records into content vectors, and
the trainer's catalogue reader."""
