"""``python -m taskplane_worker`` is the same as ``taskplane-worker``."""

from taskplane_worker.cli import main

main()
