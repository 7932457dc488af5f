"""taskplane task-service: tasks, queues and the event feed."""

__version__ = "0.1.0"
