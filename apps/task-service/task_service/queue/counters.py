"""The one counter update of the queue engine: ``completed_total``/``failed_total`` are
sharded rows in ``tasks.queue_counters`` (summed for stats), so concurrent completions do
not queue on one hot row."""

# Statements are assembled from module constants only (never input): S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

import random

SHARDS = 16


def counter_shard() -> int:
    """A random shard for this statement's additions."""
    return random.randrange(SHARDS)  # noqa: S311 - load spreading, not security


def add_to_counter(column: str) -> str:
    """Add the rows of ``src`` to ``column`` of their queue's counter shard ``:shard`` (in
    queue order, so two batches never lock shards in opposite orders)."""
    return (
        f"INSERT INTO tasks.queue_counters AS c (queue, shard, {column})"
        " SELECT queue, :shard, count(*) FROM src GROUP BY queue ORDER BY queue"
        f" ON CONFLICT (queue, shard) DO UPDATE SET {column} = c.{column} + excluded.{column}"
    )
