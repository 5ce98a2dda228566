"""Agent-side routes of the knowledge base (``/agent/kb/``, namespace ``kb``)."""

from .views import app_name, urlpatterns

__all__ = ["app_name", "urlpatterns"]
