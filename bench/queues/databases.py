"""The databases of a run: one template per peer holding its schema, a fresh clone per
repeat, filled with the peer's own batch enqueue."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import psycopg

from taskplane_testing.postgres import PostgresServer

if TYPE_CHECKING:
    from bench.queues.peers import Peer


async def admin(server: PostgresServer, sql: str) -> None:
    async with await psycopg.AsyncConnection.connect(server.url(), autocommit=True) as connection:
        await connection.execute(sql)


async def analyze(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await connection.execute("ANALYZE")


async def clone(server: PostgresServer, template: str, database: str) -> str:
    """A fresh database holding only what ``template`` holds; returns its URL."""
    await drop(server, database)
    await admin(server, f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
    return server.url(database)


async def drop(server: PostgresServer, database: str) -> None:
    await admin(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def install_templates(server: PostgresServer, peers: dict[str, Peer]) -> None:
    """One template database per peer, holding its schema (``template_<name>``)."""
    for name, peer in peers.items():
        template = f"template_{name}"
        await drop(server, template)
        await admin(server, f'CREATE DATABASE "{template}"')
        await peer.install(server.url(template))
        await peer.close()


async def fill(peer: Peer, url: str, n: int, enqueue_batch: int) -> tuple[list[str], float]:
    """Enqueue ``n`` no-op tasks in batches from one connection, then ``ANALYZE``.

    Returns the ids and the enqueue time. Every peer gets fresh statistics alike
    (autovacuum would do it soon anyway).
    """
    started = time.perf_counter()
    enqueued = await peer.enqueue(url, n // enqueue_batch, enqueue_batch)
    enqueue_s = time.perf_counter() - started
    await analyze(url)
    return enqueued, enqueue_s
