"""taskplane-worker: the runtime TaskQueue worker pods run."""

__version__ = "0.1.0"
