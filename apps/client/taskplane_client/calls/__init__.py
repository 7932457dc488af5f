"""Every API call, described once: path, body, how its answer is read, whether it is safe
to repeat. The sync and async clients send these descriptions; neither builds a request
of its own, and each function here is a method of both (:mod:`taskplane_client.api`), with
this signature. One module per resource; this package re-exports them all, so
``calls.X`` names every call."""

from taskplane_client.calls.auth import *  # noqa: F403
from taskplane_client.calls.common import *  # noqa: F403
from taskplane_client.calls.events import *  # noqa: F403
from taskplane_client.calls.leases import *  # noqa: F403
from taskplane_client.calls.queues import *  # noqa: F403
from taskplane_client.calls.tasks import *  # noqa: F403
