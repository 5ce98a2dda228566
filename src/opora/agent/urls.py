"""The agent workspace. Each area keeps its routes beside its views."""

from . import intake, mail_admin, mail_outbox, manage, queues, sla_admin, sla_reports, ticket

app_name = "agent"

urlpatterns = [
    *queues.urlpatterns,
    *ticket.urlpatterns,
    *intake.urlpatterns,
    *manage.urlpatterns,
    *sla_admin.urlpatterns,
    *sla_reports.urlpatterns,
    *mail_outbox.urlpatterns,
    *mail_admin.urlpatterns,
]
