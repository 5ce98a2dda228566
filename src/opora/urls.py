"""URL map: API v1, its schema and docs, the admin site, health and version."""

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
]

admin.site.site_header = "Opora"
admin.site.site_title = "Opora"
