"""Event-sourced data exchange hub for social work."""

from hub.errors import HubError

__all__ = ["HubError"]
__version__ = "0.1.0"
