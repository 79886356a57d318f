"""The README's reference sections, generated from the code so they cannot drift.

``python -m stream.reference_docs`` rewrites the sections of README.md between
``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->`` (``make docs``);
``--check`` exits 1 when one is stale (a unit test does the same).
"""

from __future__ import annotations

import re
import sys
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

import typer
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from stream.paths import REPO_ROOT
from stream.settings import ENV_NESTED_DELIMITER, ENV_PREFIX, Settings

README = REPO_ROOT / "README.md"


# -- configuration -------------------------------------------------------------


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join("null" if a is type(None) else _type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join(_type_name(a) for a in args if a is not Ellipsis)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if annotation is SecretStr:
        return "secret"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    factory = field.default_factory
    value = factory() if factory is not None else field.default  # type: ignore[call-arg]
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e5:
        return f"{int(value)}"
    return str(value)


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def config_reference() -> str:
    lines = [
        "Every key, its type, built-in default and environment variable. Environment "
        "variables override the YAML file; nested keys join with `__`.",
        "",
    ]
    for section, section_field in Settings.model_fields.items():
        model = section_field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        lines += [f"#### `{section}`", "", _one_line(model.__doc__), ""]
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        for key, field in model.model_fields.items():
            env = ENV_PREFIX + ENV_NESTED_DELIMITER.join((section, key)).upper()
            lines.append(
                f"| `{key}`<br>`{env}` | {_type_name(field.annotation)} | "
                f"{_one_line(_default(field))} | {_one_line(field.description)} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# -- metrics ---------------------------------------------------------------------


def _registered_metrics() -> Iterator[tuple[str, Any]]:
    from stream.content.metrics import CatalogMetrics
    from stream.sequencer.metrics import SequencerMetrics
    from stream.trainer.group_metrics import GroupMetrics
    from stream.trainer.metrics import TrainerMetrics

    registry = CollectorRegistry()
    for role, metrics in (
        ("sequencer", SequencerMetrics.create(registry)),
        ("trainer", TrainerMetrics.create(registry)),
        ("trainer (content on)", CatalogMetrics.create(registry)),
        ("trainer group rank", GroupMetrics.create(registry, 0, 2)),
    ):
        for name in type(metrics).__dataclass_fields__:
            metric = getattr(metrics, name)
            if hasattr(metric, "describe"):  # not the plain fields (a rank's number)
                yield role, metric


def metrics_reference() -> str:
    lines = [
        "| metric | type | labels | process | meaning |",
        "|---|---|---|---|---|",
    ]
    rows = []
    for role, metric in _registered_metrics():
        described = metric.describe()[0]
        name = described.name + ("_total" if described.type == "counter" else "")
        # prometheus_client has no public accessor for a metric's label names.
        labels = ", ".join(f"`{label}`" for label in metric._labelnames) or "-"
        rows.append(
            f"| `{name}` | {described.type} | {labels} | {role} | "
            f"{_one_line(described.documentation)} |"
        )
    return "\n".join(lines + sorted(rows)) + "\n"


# -- command line ----------------------------------------------------------------


def _walk(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
    if hasattr(command, "commands"):
        for name in sorted(command.commands):
            yield from _walk(command.commands[name], [*path, name])
    else:
        yield " ".join(path), command


def cli_reference() -> str:
    from stream.cli.main import app

    root = typer.main.get_command(app)
    lines = ["| command | options (besides `--config`) | what it does |", "|---|---|---|"]
    for path, command in _walk(root, ["recstream"]):
        # Typer ships its own copy of click: compare by kind, not by class.
        kinds = [(getattr(p, "param_type_name", ""), p) for p in command.params]
        arguments = [f"`{p.name.upper()}`" for kind, p in kinds if kind == "argument"]
        options = [f"`{max(p.opts, key=len)}`" for kind, p in kinds if kind == "option" and p.opts]
        skipped = {"`--config`", "`--help`"}
        usage = " ".join(arguments + [o for o in options if o not in skipped])
        summary = _one_line((command.help or "").split("\n\n")[0])
        lines.append(f"| `{path}` | {usage or '-'} | {summary} |")
    return "\n".join(lines) + "\n"


# -- README ----------------------------------------------------------------------

SECTIONS: dict[str, Callable[[], str]] = {
    "cli": cli_reference,
    "config": config_reference,
    "metrics": metrics_reference,
}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- generated:{name} -->\n)(.*?)(<!-- /generated:{name} -->)", flags=re.DOTALL
    )


def render(readme: str) -> str:
    for name, make in SECTIONS.items():
        pattern = _pattern(name)
        if not pattern.search(readme):
            raise ValueError(f"README has no <!-- generated:{name} --> section")
        text = make()

        def replace(match: re.Match[str], text: str = text) -> str:
            return match.group(1) + text + match.group(3)

        readme = pattern.sub(replace, readme)
    return readme


def stale_sections(readme: str) -> list[str]:
    """Names of the generated sections whose README text differs from the code's."""
    return [
        name
        for name, make in SECTIONS.items()
        if (match := _pattern(name).search(readme)) is None or match.group(2) != make()
    ]


def main(argv: list[str]) -> int:
    text = README.read_text()
    if "--check" in argv:
        stale = stale_sections(text)
        if stale:
            print(f"README.md is stale in: {', '.join(stale)}; run `make docs`")
            return 1
        return 0
    README.write_text(render(text))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
