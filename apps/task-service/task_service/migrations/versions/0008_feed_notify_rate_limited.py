"""the event feed's NOTIFY, rate-limited: at most one per 20 ms, cluster-wide

Every statement that wrote events sent ``NOTIFY taskplane_events`` (a statement-level
trigger), so every lease and every completion took the cluster-wide notify lock at
commit, which serialises the commits of every transaction that notifies. The trigger now
fires only when the last notification is at least 20 ms old: its ``WHEN`` condition (an
expression: no PL/pgSQL call, no query) compares the clock with the time of the
last one, kept in a sequence (``setval`` is not transactional: no row lock, no bloat,
no waiting on another writer's commit). The listener wakes feed readers again 40 ms
after each notification it receives (``queue.notify``), which picks up events written
while the trigger stayed quiet; readers also re-poll, so a missed wake-up costs latency
only.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:10:00.000000
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TRIGGER = "CREATE TRIGGER events_notify AFTER INSERT ON tasks.events FOR EACH STATEMENT"
_NOTIFY = "EXECUTE FUNCTION tasks.notify_events()"


#: The function's source as 0002 wrote it, whitespace included: the downgrade restores
#: it byte for byte, so the schema equals a fresh 0007's (``pg_dump`` shows the source).
_UNLIMITED = (
    "\n        BEGIN\n            PERFORM pg_notify('taskplane_events', '');"
    "\n            RETURN NULL;\n        END "
)


def _function(body: str) -> None:
    op.execute(
        "CREATE OR REPLACE FUNCTION tasks.notify_events() RETURNS trigger LANGUAGE plpgsql"
        f" AS $${body}$$"
    )


def upgrade() -> None:
    op.execute("CREATE SEQUENCE tasks.feed_notified_ms AS bigint MINVALUE 0 START 0")
    op.execute("DROP TRIGGER events_notify ON tasks.events")
    _function(
        " BEGIN PERFORM setval('tasks.feed_notified_ms',"
        " CAST(date_part('epoch', clock_timestamp()) * 1000 AS bigint));"
        " PERFORM pg_notify('taskplane_events', ''); RETURN NULL; END "
    )
    # 20: the shortest gap between two feed notifications, in milliseconds (date_part:
    # double precision arithmetic, cheaper than extract's numeric).
    op.execute(
        f"""{_TRIGGER} WHEN (
            date_part('epoch', clock_timestamp()) * 1000
            - coalesce(pg_sequence_last_value('tasks.feed_notified_ms'), 0) >= 20
        ) {_NOTIFY}"""
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER events_notify ON tasks.events")
    _function(_UNLIMITED)
    op.execute(f"{_TRIGGER} {_NOTIFY}")
    op.execute("DROP SEQUENCE tasks.feed_notified_ms")
