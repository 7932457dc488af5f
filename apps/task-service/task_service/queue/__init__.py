"""The durable queue engine: plain async functions over a session.

Callers own the transaction (they commit). Every state change writes its outbox event in
the same statement, and a statement that makes work available in an empty queue sends a
NOTIFY (delivered at commit) so long-polling leases wake up. Refusals are ``errors.QueueError``s.

* ``statements``: every SQL statement, named once; ``records``: their typed results
* ``registry``: queue configuration and stats; ``enqueue`` (``ids``: its UUIDv7 keys);
  ``leases`` (with the long-poll wait); ``dead_letters`` (and cancel, and deleting
  finished jobs)
* storage: live jobs in ``tasks.queue_jobs``; a job that finishes moves, in the statement
  that finishes it, to ``tasks.queue_jobs_finished`` (retention trims it); the view
  ``tasks.queue_tasks`` shows both
* ``outbox``: the one event writer; ``counters``: the one counter update
* ``maintenance``: the rescuer, the cleaner and the stats refresher, one per file
"""

from task_service.queue.dead_letters import cancel, delete_finished, list_dead, retry_dead
from task_service.queue.enqueue import enqueue
from task_service.queue.leases import (
    Lease,
    autocommit,
    complete,
    complete_many,
    fail,
    heartbeat,
    heartbeat_many,
    lease,
    lease_wait,
    release,
)
from task_service.queue.records import Leased, LeaseOutcome
from task_service.queue.registry import (
    delete_queue,
    describe_queue,
    get_queue,
    list_queues,
    put_queue,
    queue_stats,
)

__all__ = [
    "Lease",
    "LeaseOutcome",
    "Leased",
    "autocommit",
    "cancel",
    "complete",
    "complete_many",
    "delete_finished",
    "delete_queue",
    "describe_queue",
    "enqueue",
    "fail",
    "get_queue",
    "heartbeat",
    "heartbeat_many",
    "lease",
    "lease_wait",
    "list_dead",
    "list_queues",
    "put_queue",
    "queue_stats",
    "release",
    "retry_dead",
]
