"""Every benchmark in one run against one local broker: ``make bench`` / ``make bench-quick``.

    python -m bench.suite [--quick] [--config configs/default.yaml] [--only NAME ...]

Runs ingest, freshness (memory is measured there), trainer and quality-vs-cost, each
next to its reference in the same run; writes one JSON per benchmark, PNG plots and
``bench/results/<date>-<machine>.md``, and prints the headline table at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import freshness, ingest, quality, scale_out, trainer
from bench.common import RESULTS, machine, machine_tag, stamp, write_result
from bench.plots import plot_ingest, plot_trainer
from bench.profiles import PROFILES
from bench.report import Headline, headline_rows, markdown_report
from stream.local.sandbox import running_broker
from stream.paths import REPO_ROOT
from stream.settings import load_settings

console = Console(width=200)

# A 30,000-event backlog is read between two polls of the harness by the batch-reading
# agent, and before a second worker has joined its group: those runners need the full
# run's backlog to be timed at all (quick runs of both gave spans of 0.0-0.1 s and
# negative counts after the first poll, bench/NOTES.md), so the quick run leaves them out.
QUICK_INGEST_RUNNERS = ("raw aiokafka", "empty faust agent", "sequencer", "quixstreams peer")
BENCHMARKS = ("ingest", "freshness", "scale-out", "trainer", "quality")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes instead of ~30")
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "default.yaml")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument(
        "--reuse", metavar="STAMP",
        help="take the benchmarks not in --only from bench/results/<name>-STAMP.json",
    )  # fmt: skip
    parser.add_argument("--bootstrap", default=os.environ.get("RECSTREAM_TEST_BOOTSTRAP"))
    args = parser.parse_args()
    when = stamp()
    started = time.monotonic()
    results: dict[str, Any] = {}
    files: dict[str, Path] = {}
    if args.reuse:
        for name in set(BENCHMARKS) - set(args.only):
            path = RESULTS / f"{name}-{args.reuse}.json"
            if path.exists():
                data = json.loads(path.read_text())
                parts = {k: data[k] for k in ("replay", "backlog") if k in data}  # scale-out
                results[name] = (data.get("runs") or data.get("results") or data.get("rows")
                                 or parts)  # fmt: skip
                files[name] = path
    settings = load_settings(args.config)
    console.rule(f"recstream benchmarks ({'quick' if args.quick else 'full'}), {machine_tag()}")

    if {"ingest", "freshness", "scale-out"} & set(args.only):
        with (
            tempfile.TemporaryDirectory() as tmp,
            running_broker(Path(tmp) / "broker", args.bootstrap) as broker,
        ):
            base = load_settings(
                args.config, kafka={"bootstrap_servers": broker.kafka.bootstrap_servers}
            )
            if "ingest" in args.only:
                console.rule("ingest")
                events, repeats = (30_000, 1) if args.quick else (96_168, 2)
                runners = QUICK_INGEST_RUNNERS if args.quick else ingest.RUNNERS
                runs = [run for profile in PROFILES
                        for run in ingest.run(base, Path(tmp), events, repeats, runners,
                                              profile=profile)[0]]  # fmt: skip
                ingest.print_table(runs)
                results["ingest"] = [asdict(r) for r in runs]
                files["ingest"] = write_result("ingest", {
                    "events": events, "repeats": repeats, "runs": results["ingest"],
                }, when)  # fmt: skip
                plot_ingest(runs, files["ingest"].with_suffix(".png"))
            if "freshness" in args.only:
                console.rule("freshness and memory")
                rates = [250.0, 500.0] if args.quick else [250.0, 500.0, 1000.0, 2000.0]
                options = freshness.FreshnessOptions(
                    duration=20.0 if args.quick else 40.0, warmup=5.0 if args.quick else 10.0
                )
                by_source = freshness.run_sources(base, rates, options, Path(tmp))
                results["freshness"] = [asdict(r) for rs in by_source.values() for r in rs]
                files["freshness"] = freshness.save(by_source, options, args.config.name, when)
            if "scale-out" in args.only:
                console.rule("scale-out: one trainer vs a trainer group of two")
                replays, backlogs = scale_out.run(
                    args.config, base, 10_000 if args.quick else 30_000, 256,
                    0 if args.quick else 20_000, [1, 2], list(PROFILES), Path(tmp),
                )  # fmt: skip
                scale_out.print_tables(replays, backlogs)
                results["scale-out"] = {"replay": [asdict(r) for r in replays],
                                        "backlog": [asdict(b) for b in backlogs]}  # fmt: skip
                files["scale-out"] = scale_out.save(replays, backlogs, args.config, when)

    if "trainer" in args.only:
        console.rule("trainer")
        cases = trainer.run(settings, args.quick)
        trainer.print_table(cases, f"trainer on the CPU, {args.config.name}")
        results["trainer"] = [asdict(c) for c in cases]
        files["trainer"] = write_result("trainer", {
            "config": args.config.name, "quick": args.quick, "results": results["trainer"],
        }, when)  # fmt: skip
        plot_trainer(cases, files["trainer"].with_suffix(".png"))
    if "quality" in args.only:
        console.rule("quality vs cost")
        rows = quality.run(settings, args.quick)
        quality.print_table(rows)
        results["quality"] = [asdict(r) for r in rows]
        files["quality"] = write_result("quality", {
            "config": args.config.name, "quick": args.quick, "rows": results["quality"],
        }, when)  # fmt: skip
        quality.plot(rows, files["quality"].with_suffix(".png"))

    minutes = (time.monotonic() - started) / 60
    headlines = headline_rows(results)
    print_headlines(headlines)
    report = RESULTS / f"{when[:8]}-{machine_tag()}{'-quick' if args.quick else ''}.md"
    reused = sorted(set(BENCHMARKS) - set(args.only) & set(files))
    note = f"Reused from the run of {args.reuse}: {', '.join(reused)}." if reused else ""
    report.write_text(
        markdown_report(headlines, results, files, machine(), args.quick, minutes, note)
    )
    console.print(f"wrote {report} (and the JSON/PNG files it links) in {minutes:.1f} min")


def print_headlines(rows: list[Headline]) -> None:
    title = f"recstream on {machine_tag()}: each figure next to its reference"
    table = Table("benchmark", "figure", "measured", "reference", "reference value", "ratio",
                  title=title)  # fmt: skip
    for r in rows:
        table.add_row(r.benchmark, r.figure, r.value, r.reference, r.reference_value, r.ratio)
    console.print(table)


if __name__ == "__main__":
    main()
