"""Search routes, mounted at the site root: the workspace's under ``/agent/search/``, the
portal's suggestions under ``/portal/suggestions/``."""

from django.urls import path

from . import views

app_name = "search"

urlpatterns = [
    path("agent/search/", views.agent_search, name="agent"),
    path("agent/search/nothing-found/", views.zero_results, name="zero_results"),
    path("portal/suggestions/", views.suggest, name="suggest"),
    path("portal/suggestions/left/", views.suggestion_left, name="suggestion_left"),
    path("portal/suggestions/<int:pk>/", views.suggestion_open, name="suggestion_open"),
    path("portal/suggestions/<int:pk>/solved/", views.suggestion_solved,
         name="suggestion_solved"),
]
