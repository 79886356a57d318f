"""Where the repository's own files are: configs/, deploy/, README.md (a source checkout
or an editable install; the demo, the local services and the docs read them).

May import: nothing of recstream.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
