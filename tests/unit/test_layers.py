"""The layout's rules, checked on every module's imports (static: read with ``ast``,
nothing imported). Each rule names what may not import what; ``test_rules_catch_a_break``
shows that a rule fails when a module breaks it."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("stream", "model", "bench")
KAFKA_CLIENTS = ("kafka", "faust", "aiokafka", "mode")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str) -> set[str]:
    """Modules ``source`` imports anywhere (function-level imports too), resolved to
    absolute names; imports under ``if TYPE_CHECKING:`` are left out (never run)."""
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: -node.level]
                base = ".".join([*package, base] if base else package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


@cache
def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}


def graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """module -> the project modules it imports (``from a import b`` counts as a.b
    when a.b is a module, else as a)."""
    known = set(sources)
    return {
        module: {name for name in imports_of(source, module) if name in known} - {module}
        for module, source in sources.items()
    }


@dataclass(frozen=True)
class Rule:
    importer: str  # a package prefix, e.g. "stream.sequencer"
    forbidden: tuple[str, ...]  # prefixes it may not import ...
    why: str
    allowed: tuple[str, ...] = ()  # ... except these

    def breaches(self, imports: Mapping[str, Set[str]]) -> Iterator[str]:
        for module, names in sorted(imports.items()):
            if not within(module, self.importer):
                continue
            for name in sorted(names):
                if any(within(name, bad) for bad in self.forbidden) and not any(
                    within(name, ok) for ok in self.allowed
                ):
                    yield f"{module} imports {name}: {self.why}"


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


SERVICES = ("stream.sequencer", "stream.trainer", "stream.local", "stream.demo", "stream.cli",
            "stream.replay", "stream.data", "stream.content")  # fmt: skip
RULES = (
    Rule("model", ("stream", "bench", "tests", *KAFKA_CLIENTS), "model/ never sees Kafka"),
    Rule(
        "stream.settings",
        ("stream", "model"),
        "settings import nothing of recstream",
        allowed=("stream.settings",),
    ),
    Rule(
        "stream.messages",
        ("stream", "model", *KAFKA_CLIENTS),
        "messages are data: no service, no Kafka client",
        allowed=("stream.messages", "stream.settings"),
    ),
    Rule("stream.kafka", (*SERVICES, "model"), "Kafka plumbing serves every service"),
    Rule("stream.paths", ("stream", "model"), "a leaf", allowed=("stream.paths",)),
    Rule("stream.network", ("stream", "model"), "a leaf", allowed=("stream.network",)),
    Rule(
        "stream.sequencer",
        ("stream.trainer", "model", "torch"),
        "the sequencer never needs the trainer or the model",
    ),
    Rule("stream.trainer", ("stream.sequencer",), "the trainer never imports the sequencer"),
    Rule("stream.content", ("stream.sequencer", "stream.trainer"), "the trainer starts the reader"),
    Rule("stream", ("torch",), "stream/ reaches the model through model/, not torch"),
    Rule("stream", ("tests", "bench"), "the product never imports tests or benchmarks"),
    Rule("bench", ("tests",), "benchmarks use the product's sandbox, not the tests'"),
)


@cache
def all_imports() -> dict[str, frozenset[str]]:
    """module -> the project modules it imports, plus the external top-level names
    (kafka, torch) and any ``tests`` module, for the rules that forbid them. Every
    module is parsed once per test session (the rules and the cycle check share it)."""
    modules = project_modules()
    imports = {}
    for module, path in modules.items():
        names = imports_of(path.read_text(), module)
        project = {name for name in names if name in modules} - {module}
        external = {name.split(".")[0] for name in names} - {"stream", "model"}
        imports[module] = frozenset(project | external | {n for n in names if within(n, "tests")})
    return imports


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.importer}-not-{r.forbidden[0]}")
def test_layer_rule(rule: Rule) -> None:
    assert list(rule.breaches(all_imports())) == []


def cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles among project modules (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in imports.get(node, ()):
            if nxt not in imports:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(imports):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    known = project_modules()
    project = {m: {n for n in names if n in known} for m, names in all_imports().items()}
    # A package's __init__ importing its own modules is how packages re-export.
    for module in project:
        project[module] = {n for n in project[module] if not within(n, module) or n == module}
    assert cycles(project) == []


def test_every_package_says_its_role_and_what_it_may_import() -> None:
    inits = [
        init
        for top in ("stream", "model", "bench", "tests")
        for init in (REPO / top).rglob("__init__.py")
    ]
    for init in inits:
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.relative_to(REPO)} has no docstring"
        assert "import" in doc.lower(), f"{init.relative_to(REPO)} does not say what it may import"


def test_rules_catch_a_break() -> None:
    """Each kind of breach is seen: a rule, a cycle, an import hidden in a function."""
    broken = {
        "model.scoring": "import torch\nfrom stream.kafka.topics import create_topics\n",
        "stream.sequencer.app": "def later():\n    from stream.trainer.loop import TrainerLoop\n",
        "stream.trainer.loop": "from stream.trainer import budget\n",
        "stream.trainer.budget": "import stream.trainer.loop\n",
        "stream.trainer.catch_up": "if TYPE_CHECKING:\n    from stream.sequencer.app import x\n",
    }
    sources = {m: "" for m in ("stream.kafka.topics", "stream.trainer", "stream.sequencer.app")}
    imports = graph({**sources, **broken})
    breaches = [b for rule in RULES for b in rule.breaches(imports)]
    assert any(b.startswith("model.scoring imports stream.kafka.topics") for b in breaches)
    assert any(b.startswith("stream.sequencer.app imports stream.trainer.loop") for b in breaches)
    assert not any(b.startswith("stream.trainer.catch_up") for b in breaches)  # never runs
    assert cycles(imports) == [["stream.trainer.budget", "stream.trainer.loop"]]


def test_readme_layout_tree_names_every_folder_and_module() -> None:
    readme = (REPO / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    tree = layout[layout.index("```text") : layout.index("```", layout.index("```text") + 3)]
    words = set(re.findall(r"[\w.]+", tree))
    missing = []
    for package in ("stream", "model"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path.name.startswith("__"):
                if path.name == "__init__.py" and path.parent.name + "/" not in tree:
                    missing.append(str(path.parent.relative_to(REPO)) + "/")
                continue
            if path.stem not in words and path.name not in words:
                missing.append(str(path.relative_to(REPO)))
    assert missing == [], "README Layout does not mention these"
