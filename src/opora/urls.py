"""URL map: web pages (workspace, portal), API v1 with its schema and docs, the admin site,
health and version."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from opora.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("version", core_views.version, name="version"),
    path("api/v1/", include("opora.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view loads its script from a URL instead of inlining it: no 'unsafe-inline' in CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("opora.search.urls")),  # /agent/search/…, /portal/suggestions/…
    path("agent/kb/", include("opora.kb.urls")),
    path("agent/", include("opora.agent.urls")),
    path("portal/", include("opora.portal.urls")),
    path("", include("opora.web.urls")),
]

handler404 = "opora.core.views.not_found"
handler500 = "opora.core.views.server_error"

admin.site.site_header = "Opora"
admin.site.site_title = "Opora"
