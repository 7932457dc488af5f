"""Keyset against OFFSET pagination on ``tasks.tasks`` (the ``GET /api/v1/tasks`` query).

``rows`` tasks are inserted with one SQL statement (three share each ``created_at``, so
the id tie-break matters). For pages at depth 1, 100 and 1000 of the default listing
(``sort=-created_at``, 50 a page, an admin who sees everything) the API's own query is
built by the task-service's own code (``after()`` and ``order_by()``, reached through
``bench.adapter``) and compared
with the same query using ``OFFSET``. Both must return the same rows; each is timed
``samples`` times, alternately, through SQLAlchemy on one connection (median kept).

The API orders by ``created_at DESC, id DESC`` (the column is NOT NULL) and writes the
cursor as the row value ``(created_at, id) < (:v, :id)``, so PostgreSQL walks
``ix_tasks_created (created_at, id)`` backwards from the cursor: a page costs the same at
any depth, while OFFSET reads and discards every row before the page.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench import adapter
from bench.stats import percentile
from taskplane_common.db import async_database_url
from taskplane_testing.postgres import PostgresServer

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
    url = server.create_database("pagination")
    await asyncio.to_thread(adapter.install, url)
    engine = create_async_engine(async_database_url(url), pool_size=1, max_overflow=0)
    listing = adapter.task_listing("-created_at")
    base = listing.base
    results: dict[str, Any] = {"config": config.__dict__, "depths": {}}
    try:
        async with AsyncSession(engine) as session:
            await session.execute(FILL, {"rows": config.rows})
            await session.commit()
            await session.execute(text("ANALYZE tasks.tasks"))
            await session.commit()
            for depth in config.depths:
                offset = (depth - 1) * PAGE
                if offset >= config.rows:
                    continue
                keyset = base
                if offset:
                    last = (
                        await session.execute(
                            select(listing.created_at, listing.id)
                            .order_by(*listing.order)
                            .offset(offset - 1)
                            .limit(1)
                        )
                    ).one()
                    keyset = base.where(listing.after(last[0], last[1]))
                queries = {
                    "keyset": keyset.order_by(*listing.order).limit(PAGE + 1),
                    "offset": base.order_by(*listing.order).offset(offset).limit(PAGE + 1),
                }
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
                same = bool(pages["keyset"]) and pages["keyset"] == pages["offset"]
                results["depths"][str(depth)] = {
                    "keyset_ms": ms["keyset"],
                    "offset_ms": ms["offset"],
                    "offset_over_keyset": ms["offset"] / ms["keyset"],
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
