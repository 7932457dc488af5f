"""taskplane operator: TaskQueue custom resources to worker Deployments (design §8).

Importing the package registers every kopf handler, so both
``kopf run --standalone --all-namespaces -m taskplane_operator`` and
``python -m taskplane_operator`` run the whole operator.
"""

from taskplane_operator import autoscaler, handlers

__all__ = ["autoscaler", "handlers"]
