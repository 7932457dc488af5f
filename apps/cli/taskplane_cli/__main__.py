"""``python -m taskplane_cli`` is the same as ``taskplane``."""

from taskplane_cli.main import main

main()
