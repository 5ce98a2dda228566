"""REST API routes of the knowledge base, under ``/api/v1/kb/``."""

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from .api import ArticleViewSet

_router = SimpleRouter()
_router.register("articles", ArticleViewSet, basename="kb-article")

urlpatterns: list[URLPattern | URLResolver] = [*_router.urls]
