"""taskplane-worker: the runtime TaskQueue worker pods run (design.md §7)."""

__version__ = "0.1.0"
