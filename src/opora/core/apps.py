from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "opora.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        # DRF's settings name classes in ``opora.core.api``, which itself imports DRF's views:
        # loading the views first makes that order fixed, whatever touches the settings first
        # (the system checks do, before any URLconf is imported).
        import rest_framework.views  # noqa: F401
        from django.db.backends.signals import connection_created

        from . import sqlite

        connection_created.connect(sqlite.install, dispatch_uid="opora-sqlite-unicode-like")
