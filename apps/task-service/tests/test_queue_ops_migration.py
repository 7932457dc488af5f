"""The queue's migration building blocks emit exactly what 0002 and 0009 shipped with.

``task_service.migrations.queue_ops`` is replayed by those migrations on every fresh
database, so its conditions and the claim index's DDL are pinned here (as Alembic renders
them offline): a change fails instead of making new databases differ from old ones.
"""

from __future__ import annotations

import io

from alembic.migration import MigrationContext
from alembic.operations import Operations

from task_service.migrations.queue_ops import CLAIMABLE, FINISHED, LIVE, claim_index
from taskplane_common.migration_ops import create_indexes


def test_the_states_and_the_claim_index_are_the_shipped_ones() -> None:
    assert CLAIMABLE == "status IN ('pending', 'scheduled', 'retrying')"
    assert LIVE == "status IN ('pending', 'scheduled', 'retrying', 'in_progress')"
    assert FINISHED == "status IN ('completed', 'cancelled', 'dead')"

    buffer = io.StringIO()
    offline = MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": buffer}
    )
    with Operations.context(offline):
        create_indexes("tasks", claim_index("tasks"), claim_index("queue_jobs"))
    claim = "(queue, priority DESC, run_at, id) WHERE " + CLAIMABLE
    assert (
        buffer.getvalue().split()
        == (
            f"CREATE INDEX ix_tasks_claim ON tasks.tasks {claim}; "
            f"CREATE INDEX ix_queue_jobs_claim ON tasks.queue_jobs {claim};"
        ).split()
    )
