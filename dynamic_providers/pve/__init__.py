"""The PVE client shared by every provider: credentials, session, retries, tasks."""

from dynamic_providers.pve.client import PveClient
from dynamic_providers.pve.credentials import Credentials
from dynamic_providers.pve.retry import RetryPolicy
from dynamic_providers.pve.tasks import TaskResult, Upid

__all__ = ["Credentials", "PveClient", "RetryPolicy", "TaskResult", "Upid"]
