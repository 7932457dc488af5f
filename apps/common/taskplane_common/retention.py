"""Retention in bounded batches, shared by the services that keep data outside the queue.

Each rule is one statement that deletes at most ``:batch`` rows (chosen ``FOR UPDATE SKIP
LOCKED``, so a row someone holds is skipped, never waited for) and answers one row of
counts, the first column being the batch's own table: the cleaner repeats it, each time
in its own short transaction, until a batch comes back short, and adds every column to
the service's counter of rows deleted (label ``table``). A statement's other parameters
are the service's settings of the same name (``:delivery_retention_days`` is
``TASKPLANE_DELIVERY_RETENTION_DAYS``), so the SQL says which setting governs it. The
task-service queue's cleaner is one too, its rules statements of the queue's catalogue
(any :class:`DeleteBatch`); the audit log's retention runs on the same two pieces,
:class:`~taskplane_common.background.Periodic` and :func:`~taskplane_common.background.drain`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import Counter
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from taskplane_common.background import Periodic, drain
from taskplane_common.db import Database
from taskplane_common.settings import RetentionSettings


@dataclass(frozen=True)
class Child:
    """Rows of another table that go with each deleted row (counted under ``label``)."""

    label: str
    table: str
    foreign_key: str


def batch_delete(
    table: str, label: str, key: str, expired: str, oldest_first: str, *children: Child
) -> TextClause:
    """A statement deleting at most ``:batch`` rows of ``table`` where ``expired`` holds,
    oldest first, skipping rows someone holds; answers the rows deleted as ``label`` (and
    each child's as its label). Every argument is a constant of the caller's module."""
    # Identifiers are module constants of the caller, values are bound parameters.
    cascades = "".join(
        f""", {child.label} AS (
        DELETE FROM {child.table} AS c USING doomed
        WHERE c.{child.foreign_key} = doomed.{key}
        RETURNING 1
    )"""  # noqa: S608
        for child in children
    )
    counts = ", ".join(
        [
            f"(SELECT count(*) FROM gone) AS {label}",  # noqa: S608
            *(f"(SELECT count(*) FROM {c.label}) AS {c.label}" for c in children),  # noqa: S608
        ]
    )
    return text(
        f"""
    WITH doomed AS (
        SELECT {key} FROM {table}
        WHERE {expired}
        ORDER BY {oldest_first}
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ){cascades}, gone AS (
        DELETE FROM {table} AS t USING doomed
        WHERE t.{key} = doomed.{key}
        RETURNING 1
    )
    SELECT {counts}
    """  # noqa: S608
    )


class DeleteBatch(Protocol):
    """One rule of a cleaner: delete at most ``batch`` rows in ``session``; answers the rows
    deleted per table, the rule's own table first (the one compared with ``batch``)."""

    async def __call__(self, session: AsyncSession, batch: int) -> Mapping[str, int]: ...


@dataclass(frozen=True)
class Rule:
    """One table's retention: ``statement`` takes ``:batch`` plus ``params`` and answers
    one row of counts (see :func:`batch_delete`)."""

    statement: TextClause
    params: Mapping[str, int | float] = field(default_factory=dict)

    async def __call__(self, session: AsyncSession, batch: int) -> Mapping[str, int]:
        result = await session.execute(self.statement, {**self.params, "batch": batch})
        return {table: int(n) for table, n in result.one()._mapping.items()}


class RetentionCleaner(Periodic):
    """Runs every rule on an interval (:class:`~taskplane_common.background.Periodic`),
    each one batch after batch (:func:`~taskplane_common.background.drain`)."""

    name = "retention"

    def __init__(
        self,
        database: Database,
        rules: Sequence[DeleteBatch],
        *,
        interval_s: float,
        batch: int,
        deleted: Counter,
    ) -> None:
        super().__init__(database, interval_s)
        if batch < 1:
            raise ValueError(f"{self.name}: batch must be at least 1")
        self.rules = list(rules)
        self.batch = batch
        self.deleted = deleted

    @classmethod
    def of(
        cls,
        settings: RetentionSettings,
        database: Database,
        deleted: Counter,
        *statements: TextClause,
    ) -> RetentionCleaner:
        """A cleaner paced by the service's ``TASKPLANE_RETENTION_*`` settings, running
        ``statements`` with their parameters (but ``:batch``) taken from the settings of
        the same name; a parameter that names no setting is refused here, at start-up."""
        rules: list[DeleteBatch] = []
        for statement in statements:
            names = set(statement.compile().params) - {"batch"}
            unknown = sorted(names - set(type(settings).model_fields))
            if unknown:
                raise ValueError(f"retention: no setting for the parameters {unknown}")
            rules.append(Rule(statement, {name: getattr(settings, name) for name in names}))
        return cls(
            database,
            rules,
            interval_s=settings.retention_interval_s,
            batch=settings.retention_batch,
            deleted=deleted,
        )

    async def run_once(self) -> None:
        await self.clean_all()

    async def clean_all(self) -> dict[str, int]:
        """Delete everything past retention now; the rows deleted per table."""
        totals: dict[str, int] = {}
        for rule in self.rules:
            drained = await drain(self.database, self.batch, functools.partial(self._batch, rule))
            for table, count in drained.items():
                totals[table] = totals.get(table, 0) + count
        return totals

    async def _batch(self, rule: DeleteBatch, session: AsyncSession) -> Mapping[str, int]:
        counts = await rule(session, self.batch)
        for table, count in counts.items():
            self.deleted.labels(table).inc(count)
        return counts
