"""Keyset against OFFSET pagination on ``tasks.tasks`` (the ``GET /api/v1/tasks`` query).

``rows`` tasks are inserted with one SQL statement (three share each ``created_at``, so
the id tie-break matters). For pages at depth 1, 100 and 1000 of the default listing
(``sort=-created_at``, 50 a page, an admin who sees everything) the API's own query is
built with ``task_service.pagination`` (``after()`` and ``order_by()``) and compared
with the same query using ``OFFSET``. Both must return the same rows; each is timed
``samples`` times, alternately, through SQLAlchemy on one connection (median kept).

The API orders by ``created_at DESC NULLS LAST, id DESC``, which the ascending index
``ix_tasks_created (created_at, id)`` cannot produce (a backward scan gives DESC NULLS
FIRST), so PostgreSQL sorts the whole table for every page. A second pair of timings uses
the same predicate with ``created_at DESC, id DESC`` (same rows: the column is NOT NULL)
to show what an index-backed order would give, and a third keyset query writes the
predicate as a row-value comparison ``(created_at, id) < (:v, :id)``, which the index
scan can start from instead of filtering every row before the cursor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.stats import percentile
from taskplane_common.db import async_database_url
from taskplane_common.testing.postgres import PostgresServer

PAGE = 50


@dataclass
class PaginationConfig:
    rows: int
    depths: list[int] = field(default_factory=lambda: [1, 100, 1000])
    samples: int = 15


FILL = text(
    """
        INSERT INTO tasks.tasks (id, title, status, priority, owner_id, tags, tags_normalized,
                                 created_at, updated_at)
        SELECT gen_random_uuid(), 'task ' || g,
               (ARRAY['pending', 'in_progress', 'completed'])[1 + g % 3], g % 4,
               '00000000-0000-4000-8000-000000000001'::uuid,
               ARRAY['t' || (g % 10)], ARRAY['t' || (g % 10)],
               now() - (g / 3) * interval '1 second', now()
        FROM generate_series(1, :rows) AS g
    """
)


async def run_pagination(
    server: PostgresServer, config: PaginationConfig, log: Callable[[str], None]
) -> dict[str, Any]:
    from task_service.crud import visible_to
    from task_service.models import Task
    from task_service.pagination import after, order_by, parse_sort
    from taskplane_common.migrations import upgrade
    from taskplane_common.security import DEV_PRINCIPAL

    url = server.create_database("pagination")
    await asyncio.to_thread(upgrade, "task_service", url)
    engine = create_async_engine(async_database_url(url), pool_size=1, max_overflow=0)
    sort = parse_sort("-created_at")
    base: Select[Task] = select(Task).where(visible_to(DEV_PRINCIPAL))
    results: dict[str, Any] = {"config": config.__dict__, "depths": {}}
    try:
        async with AsyncSession(engine) as session:
            await session.execute(FILL, {"rows": config.rows})
            await session.commit()
            await session.execute(text("ANALYZE tasks.tasks"))
            await session.commit()
            # The API's ORDER BY (``created_at DESC NULLS LAST, id DESC``) and, for
            # comparison, the same order without NULLS LAST (``created_at`` is NOT NULL,
            # so the rows are identical), which ``ix_tasks_created`` can serve backwards.
            orders: dict[str, list[Any]] = {
                "api": order_by(sort),
                "index_order": [Task.created_at.desc(), Task.id.desc()],
            }
            for depth in config.depths:
                offset = (depth - 1) * PAGE
                if offset >= config.rows:
                    continue
                queries: dict[str, Any] = {}
                last = None
                if offset:
                    last = (
                        await session.execute(
                            select(Task.created_at, Task.id)
                            .order_by(*order_by(sort))
                            .offset(offset - 1)
                            .limit(1)
                        )
                    ).one()
                for variant, ordering in orders.items():
                    keyset = base if last is None else base.where(after(sort, last[0], last[1]))
                    queries[f"keyset_{variant}"] = keyset.order_by(*ordering).limit(PAGE + 1)
                    queries[f"offset_{variant}"] = (
                        base.order_by(*ordering).offset(offset).limit(PAGE + 1)
                    )
                # The same keyset as one row-value comparison, which (unlike the OR form
                # of ``after()``) PostgreSQL can use as the index scan's start.
                row_value = (
                    base
                    if last is None
                    else base.where(tuple_(Task.created_at, Task.id) < tuple_(last[0], last[1]))
                )
                queries["keyset_row_value"] = row_value.order_by(*orders["index_order"]).limit(
                    PAGE + 1
                )
                timings: dict[str, list[float]] = {name: [] for name in queries}
                pages: dict[str, list[Any]] = {}
                for sample in range(config.samples + 2):  # the first two warm the cache
                    for name, query in queries.items():
                        session.expunge_all()
                        started = time.perf_counter()
                        rows = list((await session.execute(query)).scalars())
                        elapsed = time.perf_counter() - started
                        if sample >= 2:
                            timings[name].append(elapsed * 1e3)
                        pages[name] = [row.id for row in rows]
                    await session.commit()
                ms = {name: percentile(values, 50) for name, values in timings.items()}
                reference = pages["keyset_api"]
                same = bool(reference) and all(page == reference for page in pages.values())
                results["depths"][str(depth)] = {
                    "keyset_ms": ms["keyset_api"],
                    "offset_ms": ms["offset_api"],
                    "offset_over_keyset": ms["offset_api"] / ms["keyset_api"],
                    "index_order_keyset_ms": ms["keyset_index_order"],
                    "index_order_offset_ms": ms["offset_index_order"],
                    "index_order_offset_over_keyset": (
                        ms["offset_index_order"] / ms["keyset_index_order"]
                    ),
                    "row_value_keyset_ms": ms["keyset_row_value"],
                    "index_order_offset_over_row_value_keyset": (
                        ms["offset_index_order"] / ms["keyset_row_value"]
                    ),
                    "same_rows": same,
                    "samples": timings,
                }
                log(
                    f"pagination depth {depth}: "
                    + ", ".join(f"{name} {value:.2f} ms" for name, value in ms.items())
                    + f", same rows: {same}"
                )
    finally:
        await engine.dispose()
    results["same_rows"] = all(d["same_rows"] for d in results["depths"].values())
    return results
