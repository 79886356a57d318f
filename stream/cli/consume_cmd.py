"""``recstream consume``: tail the recommendations topic."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

import typer

from stream.cli.common import ConfigOption, console, err_console, kafka_settings_from, user_errors
from stream.kafka.topic_reader import assigned_consumer
from stream.messages.recommendation import RecommendationMessage


def describe(message: RecommendationMessage, now: float, shown: int = 5) -> str:
    items = ", ".join(message.items[:shown]) + (" …" if len(message.items) > shown else "")
    at = datetime.fromtimestamp(message.event_ts).strftime("%H:%M:%S.%f")[:-3]
    fresh = message.published_ts - message.event_ts
    return (
        f"[bold]{message.user_id}[/] ← {items}  [dim](model v{message.model_version}; "
        f"event {message.event_id} at {at}, published {fresh:.2f}s later, "
        f"{max(0.0, now - message.published_ts):.1f}s ago)[/]"
    )


def consume_command(
    config: ConfigOption = None,
    user: Annotated[str | None, typer.Option(help="Only this user's recommendations.")] = None,
    max_messages: Annotated[
        int | None, typer.Option("--max", min=1, help="Stop after this many.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(min=0.1, help="Stop after this many seconds without one.")
    ] = None,
    from_beginning: Annotated[
        bool, typer.Option(help="Start at the oldest retained message, not the end.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print raw JSON lines.")] = False,
) -> None:
    """Print recommendations as they are published (Ctrl-C to stop)."""
    with user_errors():
        settings = kafka_settings_from(config)
        topic = settings.topics.recommendations
        consumer, partitions = assigned_consumer(settings, topic, from_beginning)
        try:
            if not partitions:
                raise typer.BadParameter(f"topic {topic} does not exist; run `recstream topics "
                                         "create` and a trainer first")  # fmt: skip
            shown = 0
            last = time.monotonic()
            while max_messages is None or shown < max_messages:
                if timeout is not None and time.monotonic() - last > timeout:
                    break
                for records in consumer.poll(timeout_ms=200).values():
                    for record in records:
                        last = time.monotonic()
                        message = RecommendationMessage.from_json(record.value)
                        if user is not None and message.user_id != user:
                            continue
                        if as_json:
                            print(record.value.decode(), flush=True)
                        else:
                            console.print(describe(message, time.time()), highlight=False)
                        shown += 1
                        if max_messages is not None and shown >= max_messages:
                            break
                    if max_messages is not None and shown >= max_messages:
                        break
            if shown == 0 and timeout is not None:
                # Silence would look like a hang or a bug; say what to try instead.
                hint = "" if from_beginning else " (--from-beginning shows the ones already there)"
                err_console.print(f"no recommendations published within {timeout:g}s{hint}")
        except KeyboardInterrupt:
            pass
        finally:
            consumer.close()
