"""The CLI and the sequencer stay free of torch, transformers and matplotlib.

Every `recstream` process imports the CLI; a sequencer worker that pulled in torch
paid ~700 MB of RSS and ~5 s of start-up for nothing (bench/NOTES.md, "Ingest").
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "matplotlib")


def imported_after(statement: str) -> set[str]:
    probe = f"import sys\n{statement}\nprint(' '.join(sorted(set(sys.modules))))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=120)  # fmt: skip
    return set(result.stdout.split())


def test_the_cli_and_the_sequencer_do_not_import_the_model_stack() -> None:
    loaded = imported_after(
        "import stream.cli.main\nfrom stream.sequencer.app import build_sequencer_app"
    )
    assert "stream.sequencer.app" in loaded  # the probe really imported it
    assert not {name for name in HEAVY if name in loaded}


def test_the_trainer_does_import_torch() -> None:
    # The same probe sees torch where it belongs, so the check above can fail.
    assert "torch" in imported_after("from stream.trainer.app import build_trainer_app")
