"""taskplane operator: TaskQueue custom resources to worker Deployments.

Importing the package registers every kopf handler (the only import of ``handlers``),
so both ``kopf run --standalone --all-namespaces -m taskplane_operator`` and
``python -m taskplane_operator`` run the whole operator.
"""

from taskplane_operator import handlers

__all__ = ["handlers"]
