"""``recstream demo``: the whole pipeline on one machine, watched live (dashboard, plots).

May import: any stream/ package but cli/.
"""
