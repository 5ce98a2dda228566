"""REST API v1 routes."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from opora.accounts.api import ObtainTokenView, OrganisationViewSet, TeamViewSet, UserViewSet
from opora.catalog.api import CategoryViewSet, ServiceViewSet
from opora.tickets.api.views import AttachmentDownloadView, TicketViewSet

app_name = "api"

router = DefaultRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("users", UserViewSet, basename="user")
router.register("organisations", OrganisationViewSet, basename="organisation")
router.register("teams", TeamViewSet, basename="team")
router.register("categories", CategoryViewSet, basename="category")
router.register("services", ServiceViewSet, basename="service")

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="token"),
    path("attachments/<int:pk>/", AttachmentDownloadView.as_view(), name="attachment-download"),
    path("sla/", include("opora.sla.api_urls")),
    path("kb/", include("opora.kb.api_urls")),
    *router.urls,
]
