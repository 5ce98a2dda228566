from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "opora.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from . import sqlite

        connection_created.connect(sqlite.install, dispatch_uid="opora-sqlite-unicode-like")
