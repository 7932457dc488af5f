"""taskplane: the command line of the taskplane platform, on ``taskplane_client``."""

__version__ = "0.1.0"
