"""Kept for importers of the old location: client authentication lives in
``taskplane_client.auth`` (the client package), where the worker, the operator and the
CLI use it."""

from taskplane_client.auth import EXCHANGE_PATH, SERVICE_TOKEN_PREFIX, ServiceTokenAuth
from taskplane_client.errors import TokenExchangeError

__all__ = ["EXCHANGE_PATH", "SERVICE_TOKEN_PREFIX", "ServiceTokenAuth", "TokenExchangeError"]
