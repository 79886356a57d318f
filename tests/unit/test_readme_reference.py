"""The README's reference sections are generated from the code and must not drift."""

from __future__ import annotations

from pydantic import BaseModel

from stream.reference_docs import README, SECTIONS, render, stale_sections
from stream.settings import Settings


def test_the_readme_reference_sections_match_the_code() -> None:
    stale = stale_sections(README.read_text())
    assert not stale, f"README.md is stale in {stale}: run `make docs`"


def test_a_changed_setting_makes_the_reference_stale() -> None:
    text = README.read_text()
    row = "| `batch_size`<br>`RECSTREAM_TRAINER__BATCH_SIZE` | int | {} |"
    tampered = text.replace(row.format(256), row.format(512))
    assert tampered != text
    assert stale_sections(tampered) == ["config"]
    assert stale_sections(render(tampered)) == []


def test_every_setting_is_documented() -> None:
    undocumented = []
    for section, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        assert model.__doc__, f"section {section} has no docstring"
        undocumented += [f"{section}.{key}" for key, f in model.model_fields.items()
                         if not f.description]  # fmt: skip
    assert not undocumented, f"settings without a docstring: {undocumented}"


def test_every_cli_command_and_metric_is_in_the_readme() -> None:
    text = README.read_text()
    for line in SECTIONS["cli"]().splitlines()[2:]:
        command = line.split("`")[1]
        assert f"| `{command}` |" in text
    assert "`recstream prometheus start`" in text and "`recstream worker trainer`" in text
    assert "`recstream_sequencer_consumer_lag`" in text
