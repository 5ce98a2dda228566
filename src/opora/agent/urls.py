"""The agent workspace. Each area keeps its routes beside its views."""

from . import intake, manage, queues, ticket

app_name = "agent"

urlpatterns = [
    *queues.urlpatterns,
    *ticket.urlpatterns,
    *intake.urlpatterns,
    *manage.urlpatterns,
]
