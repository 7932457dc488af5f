"""Retention in bounded batches, shared by the services that keep data outside the queue.

Each rule is one statement that deletes at most ``:batch`` rows (chosen ``FOR UPDATE SKIP
LOCKED``, so a row someone holds is skipped, never waited for) and answers one row of
counts, the first column being the batch's own table: the cleaner repeats it, each time
in its own short transaction, until a batch comes back short, and adds every column to
the service's counter of rows deleted (label ``table``). A statement's other parameters
are the service's settings of the same name (``:delivery_retention_days`` is
``TASKPLANE_DELIVERY_RETENTION_DAYS``), so the SQL says which setting governs it. Same
shape as the task-service queue's cleaner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import Counter
from sqlalchemy import TextClause, text

from taskplane_common.db import Database
from taskplane_common.settings import RetentionSettings

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Rule:
    """One table's retention: ``statement`` takes ``:batch`` plus ``params``."""

    statement: TextClause
    params: Mapping[str, int | float] = field(default_factory=dict)


class RetentionCleaner:
    """Runs every rule on an interval until cancelled; a failing pass is logged and retried
    on the next tick."""

    def __init__(
        self,
        database: Database,
        rules: Sequence[Rule],
        *,
        interval_s: float,
        batch: int,
        deleted: Counter,
    ) -> None:
        if interval_s <= 0 or batch < 1:
            raise ValueError("retention: interval_s must be positive and batch at least 1")
        self.database = database
        self.rules = list(rules)
        self.interval_s = interval_s
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
        rules: list[Rule] = []
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

    async def clean_all(self) -> dict[str, int]:
        """Delete everything past retention now; the rows deleted per table."""
        totals: dict[str, int] = {}
        for rule in self.rules:
            for table, count in (await self._drain(rule)).items():
                totals[table] = totals.get(table, 0) + count
        return totals

    async def _drain(self, rule: Rule) -> dict[str, int]:
        totals: dict[str, int] = {}
        while True:
            async with self.database.session() as session:
                result = await session.execute(rule.statement, {**rule.params, "batch": self.batch})
                counts = {table: int(n) for table, n in result.one()._mapping.items()}
            for table, count in counts.items():
                self.deleted.labels(table).inc(count)
                totals[table] = totals.get(table, 0) + count
            if next(iter(counts.values())) < self.batch:
                return totals

    async def run(self) -> None:
        """A pass every ``interval_s``, the first one interval after start (a pod that
        restarts often does not add a pass to every start)."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.clean_all()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("retention pass failed: %s", type(exc).__name__)
