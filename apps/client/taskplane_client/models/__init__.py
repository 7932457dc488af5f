"""Typed bodies of the taskplane API: what the client sends and what it gets back.

They mirror the task-service and auth-service schemas without importing them (the
client must not depend on server code). Request models check what the server checks,
so a bad value is reported before anything is sent (a bulk file names its bad line);
response models ignore fields they do not know, so a newer server does not break an
older client.

One module per resource (``tasks``, ``queues``, ``leases``, ``events``, ``auth``), the
shared bases and field types in ``base``; every name is importable from here.
"""

from taskplane_client.models.auth import *  # noqa: F403
from taskplane_client.models.base import *  # noqa: F403
from taskplane_client.models.events import *  # noqa: F403
from taskplane_client.models.leases import *  # noqa: F403
from taskplane_client.models.problems import *  # noqa: F403
from taskplane_client.models.queues import *  # noqa: F403
from taskplane_client.models.tasks import *  # noqa: F403
