"""The virtual environment the quixstreams peer runs in (``.venv-quix``), made once.

quixstreams pins pydantic and pydantic-settings versions of its own; installed into
recstream's environment it would change what the product runs on. Its own
environment keeps the comparison from touching the product.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stream.paths import REPO_ROOT

QUIX_ENV = REPO_ROOT / ".venv-quix"
REQUIREMENTS = ("quixstreams==3.28.1", "prometheus-client>=0.20,<1")


def quix_python() -> Path:
    """The peer's interpreter, installing it on first use (about a minute)."""
    python = QUIX_ENV / "bin" / "python"
    stamp = QUIX_ENV / ".installed"
    if not stamp.exists() or stamp.read_text() != "\n".join(REQUIREMENTS):
        subprocess.run([sys.executable, "-m", "venv", str(QUIX_ENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS],
                       check=True)  # fmt: skip
        stamp.write_text("\n".join(REQUIREMENTS))
    return python
