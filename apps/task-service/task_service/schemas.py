"""Request and response bodies of the tasks API: the client's wire types (a row becomes
its API shape in ``crud.task_document``)."""

from __future__ import annotations

import taskplane_client.models as wire

#: The wire types are the client's (one definition for both sides); the names here are
#: the ones this service's code uses.
PriorityLabel = wire.Priority
SettableStatus = wire.SettableStatus
StatusLabel = wire.Status
Title = wire.Title
TaskCreate = wire.TaskCreate
TaskUpdate = wire.TaskUpdate
QueueDetails = wire.QueueDetails
TaskOut = wire.Task
TaskPage = wire.TaskPage
TaskStats = wire.TaskStats
