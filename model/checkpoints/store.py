"""A directory of checkpoints: full snapshots and deltas, each a folder of safetensors +
JSON with a manifest, written atomically and verified by content hash on the way back.

    <root>/00000007-v1400-full/   tensors.safetensors  state.json.gz  manifest.json
    <root>/00000008-v1600-delta/  (parent: 00000007-v1400-full)

A checkpoint folder is built under a hidden temporary name and renamed into place
only when every file and the manifest are on disk (fsync), so a crash mid-write
leaves nothing that :meth:`CheckpointStore.newest_chain` would accept. Restoring
takes the newest checkpoint whose whole chain (its full snapshot and every delta
since) verifies; a corrupted, truncated or missing file is reported and the store
falls back to the newest consistent checkpoint before it. What the tensors and
state mean is the learner's business (model/checkpoints/checkpointer.py); never pickle.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch loads only where tensors are read or written: `recstream model
    import torch  # list` and the sequencer never import it

TENSORS = "tensors.safetensors"
# The JSON state, gzipped: item ids, timestamps and replayed sequences compress several
# times over, and in a 1M-item adapters delta they were a quarter of the bytes
# (bench/NOTES.md, "Item codes"). Checkpoints written before hold a plain state.json.
STATE = "state.json.gz"
PLAIN_STATE = "state.json"
MANIFEST = "manifest.json"
_NAME = re.compile(r"^(\d{8})-v(\d+)-(full|delta)$")


class CheckpointError(Exception):
    """A checkpoint that cannot be used, with the reason."""


@dataclass(frozen=True)
class CheckpointInfo:
    """One checkpoint's manifest, as read from disk."""

    name: str
    path: Path
    seq: int
    kind: str  # full | delta
    parent: str | None
    chain: str  # the full snapshot this checkpoint builds on (itself when full)
    model_version: int
    created_ts: float
    files: dict[str, dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)  # offsets, metrics, vocabulary, ...

    @property
    def bytes(self) -> int:
        return sum(int(f["bytes"]) for f in self.files.values())


@dataclass
class RestorePlan:
    """The chain to apply (full snapshot first) and what was wrong with newer ones."""

    chain: list[CheckpointInfo]
    problems: list[str]

    @property
    def newest(self) -> CheckpointInfo | None:
        return self.chain[-1] if self.chain else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def encoded_state(state: Any) -> bytes:
    """A checkpoint's JSON state (or a part of it) as stored: gzipped JSON. mtime=0: the
    same state gives the same bytes, and so the same hash."""
    return gzip.compress(json.dumps(state).encode(), mtime=0)


class CheckpointStore:
    def __init__(self, root: Path, keep_chains: int = 3) -> None:
        self.root = Path(root)
        self.keep_chains = keep_chains
        self._verified: dict[str, bool] = {}

    # -- writing -----------------------------------------------------------------

    def write(
        self, kind: str, tensors: dict[str, torch.Tensor], state: dict[str, Any],
        model_version: int, parent: CheckpointInfo | None, extra: dict[str, Any],
        before_commit: Callable[[Path], None] = lambda _tmp: None,
    ) -> CheckpointInfo:  # fmt: skip
        """Write one checkpoint atomically; ``before_commit`` lets tests crash mid-way."""
        if kind not in ("full", "delta"):
            raise ValueError(f"unknown checkpoint kind {kind!r}")
        if kind == "delta" and parent is None:
            raise ValueError("a delta needs a parent")
        self.root.mkdir(parents=True, exist_ok=True)
        seq = max((info.seq for info in self._complete()), default=0) + 1
        name = f"{seq:08d}-v{model_version}-{kind}"
        tmp = self.root / f".tmp-{name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir()
            cpu = {key: t.detach().to("cpu").contiguous() for key, t in tensors.items()}
            from safetensors.torch import save_file

            save_file(cpu, str(tmp / TENSORS))
            (tmp / STATE).write_bytes(encoded_state(state))
            files = {}
            for file in (TENSORS, STATE):
                _fsync(tmp / file)
                files[file] = {"sha256": _sha256(tmp / file), "bytes": (tmp / file).stat().st_size}
            chain = name if kind == "full" else (parent.chain if parent else name)
            body = {
                "name": name, "seq": seq, "kind": kind,
                "parent": parent.name if parent is not None and kind == "delta" else None,
                "chain": chain, "model_version": model_version, "created_ts": time.time(),
                "files": files, "extra": extra,
            }  # fmt: skip
            (tmp / MANIFEST).write_text(json.dumps({**body, "checksum": _checksum(body)}, indent=1))
            _fsync(tmp / MANIFEST)
            _fsync(tmp)
            before_commit(tmp)
            final = self.root / name
            tmp.rename(final)  # the commit point: atomic within one file system
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # a failed write leaves nothing behind
            raise
        _fsync(self.root)
        info = self._info(final)
        if kind == "full":
            self.prune()
        return info

    def prune(self) -> list[str]:
        """Keep the newest ``keep_chains`` chains (a chain: a full snapshot and its deltas)."""
        complete = self._complete()
        fulls = [info.name for info in complete if info.kind == "full"]
        keep = set(fulls[-self.keep_chains :])
        removed = []
        for info in complete:
            if info.chain not in keep:
                shutil.rmtree(info.path, ignore_errors=True)
                removed.append(info.name)
        for tmp in self.root.glob(".tmp-*"):  # crashed writes of earlier processes
            if not tmp.name.endswith(f"-{os.getpid()}"):
                shutil.rmtree(tmp, ignore_errors=True)
        return removed

    # -- reading -------------------------------------------------------------------

    def _info(self, path: Path) -> CheckpointInfo:
        try:
            data = json.loads((path / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{path.name}: unreadable manifest ({exc})") from None
        body = {key: value for key, value in data.items() if key != "checksum"}
        if not isinstance(data, dict) or data.get("checksum") != _checksum(body):
            raise CheckpointError(f"{path.name}: manifest checksum mismatch")
        return CheckpointInfo(
            name=data["name"], path=path, seq=int(data["seq"]), kind=data["kind"],
            parent=data["parent"], chain=data["chain"], model_version=int(data["model_version"]),
            created_ts=float(data["created_ts"]), files=data["files"], extra=data["extra"],
        )  # fmt: skip

    def _complete(self, problems: list[str] | None = None) -> list[CheckpointInfo]:
        """Every committed checkpoint with a readable manifest, oldest first."""
        if not self.root.is_dir():
            return []
        infos = []
        for path in sorted(self.root.iterdir()):
            if not path.is_dir() or not _NAME.match(path.name):
                continue
            try:
                infos.append(self._info(path))
            except CheckpointError as exc:
                if problems is not None:
                    problems.append(str(exc))
        return sorted(infos, key=lambda info: info.seq)

    def checkpoints(self) -> list[CheckpointInfo]:
        """Every committed checkpoint with a readable manifest, oldest first."""
        return self._complete()

    def verify(self, info: CheckpointInfo) -> None:
        """Raise :class:`CheckpointError` unless every file matches its hash."""
        if self._verified.get(info.name):
            return
        for file, expected in info.files.items():
            path = info.path / file
            if not path.exists():
                raise CheckpointError(f"{info.name}: {file} is missing")
            size = path.stat().st_size
            if size != int(expected["bytes"]):
                raise CheckpointError(f"{info.name}: {file} has {size} bytes, expected "
                                      f"{expected['bytes']} (truncated?)")  # fmt: skip
            if _sha256(path) != expected["sha256"]:
                raise CheckpointError(f"{info.name}: {file} content hash mismatch (corrupted)")
        self._verified[info.name] = True

    def newest_chain(self, at_most_version: int | None = None) -> RestorePlan:
        """The newest checkpoint whose chain verifies (optionally not newer than a version)."""
        problems: list[str] = []
        self._verified.clear()  # files may have changed on disk since the last look
        infos = self._complete(problems)
        by_name = {info.name: info for info in infos}
        bad: set[str] = set()
        for candidate in reversed(infos):
            if at_most_version is not None and candidate.model_version > at_most_version:
                continue
            chain, node = [], candidate
            try:
                while True:
                    if node.name in bad:
                        raise CheckpointError(f"{node.name}: unusable (see above)")
                    self.verify(node)
                    chain.append(node)
                    if node.kind == "full":
                        break
                    parent = by_name.get(node.parent or "")
                    if parent is None:
                        raise CheckpointError(f"{node.name}: parent {node.parent} is missing")
                    node = parent
            except CheckpointError as exc:
                bad.add(node.name)
                if not str(exc).endswith("(see above)"):
                    problems.append(str(exc))
                continue
            return RestorePlan(list(reversed(chain)), problems)
        return RestorePlan([], problems)

    def read(self, info: CheckpointInfo) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        self.verify(info)
        from safetensors.torch import load_file

        tensors = load_file(str(info.path / TENSORS))
        if (info.path / STATE).exists():
            text = gzip.decompress((info.path / STATE).read_bytes()).decode()
        else:
            text = (info.path / PLAIN_STATE).read_text()
        state: dict[str, Any] = json.loads(text)
        return tensors, state

    def find(self, version: int) -> CheckpointInfo | None:
        return next((i for i in reversed(self._complete()) if i.model_version == version), None)

    def set_aside_newer_than(self, version: int) -> list[str]:
        """Move checkpoints newer than ``version`` into ``rolled-back/<time>/`` (reversible)."""
        newer = [info for info in self._complete() if info.model_version > version]
        if not newer:
            return []
        target = self.root / "rolled-back" / time.strftime("%Y%m%d-%H%M%S")
        target.mkdir(parents=True, exist_ok=True)
        for info in newer:
            info.path.rename(target / info.name)
        return [info.name for info in newer]
