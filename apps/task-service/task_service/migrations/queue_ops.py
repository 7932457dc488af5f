"""The queue's job states and claim index, as the task-service's migrations state them.

0002 indexed queued tasks in ``tasks.tasks``; 0009 moved them to tables of their own
(``tasks.queue_jobs``) with the same states and the same claim index. Frozen like
:mod:`taskplane_common.migration_ops`: shipped migrations import these and run them again
on every fresh database, so nothing here may change once a migration uses it; another
condition or index shape is a new name.
"""

from __future__ import annotations

import sqlalchemy as sa

from taskplane_common.migration_ops import Index

#: Jobs a worker may claim: waiting for their ``run_at``, or due.
CLAIMABLE = "status IN ('pending', 'scheduled', 'retrying')"
#: Jobs not finished yet: claimable, or leased by a worker.
LIVE = "status IN ('pending', 'scheduled', 'retrying', 'in_progress')"
#: Jobs that never run again.
FINISHED = "status IN ('completed', 'cancelled', 'dead')"


def claim_index(table: str) -> Index:
    """``ix_<table>_claim``, the claim's path through ``table``: a queue's claimable jobs,
    highest priority first, then the earliest ``run_at``."""
    return Index(
        f"ix_{table}_claim",
        table,
        ["queue", sa.text("priority DESC"), "run_at", "id"],
        where=CLAIMABLE,
    )
