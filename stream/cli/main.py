"""The ``recstream`` entry point: one Typer app with a sub-app per area."""

from __future__ import annotations

import typer

from stream.cli import (
    broker_cmd,
    consume_cmd,
    demo_cmd,
    evaluate_cmd,
    model_cmd,
    pretrain_cmd,
    produce_cmd,
    prometheus_cmd,
    replay_cmd,
    topics_cmd,
    worker_cmd,
)

app = typer.Typer(
    name="recstream",
    help="recstream: a Kafka-native sequential recommender that learns while it serves.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(broker_cmd.app, name="broker")
app.add_typer(topics_cmd.app, name="topics")
app.add_typer(worker_cmd.app, name="worker")
app.add_typer(model_cmd.app, name="model")
app.add_typer(prometheus_cmd.app, name="prometheus")
app.command("demo")(demo_cmd.demo)
app.command("produce")(produce_cmd.produce_command)
app.command("consume")(consume_cmd.consume_command)
app.command("replay")(replay_cmd.replay_command)
app.command("compare")(replay_cmd.compare_command)
app.command("evaluate")(evaluate_cmd.evaluate_command)
app.command("pretrain")(pretrain_cmd.pretrain_command)
