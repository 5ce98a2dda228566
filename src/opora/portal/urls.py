"""The self-service portal for requesters."""

from django.urls import path

from opora.kb import portal_views as kb_views

from . import email_links, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("new/", views.new_request, name="new"),
    path("requests/<str:ref>/", views.request_page, name="request"),
    path("requests/<str:ref>/reply/", views.reply, name="reply"),
    path("requests/<str:ref>/confirm/", views.confirm, name="confirm"),
    path("requests/<str:ref>/reopen/", views.reopen, name="reopen"),
    path("requests/<str:ref>/cancel/", views.cancel, name="cancel"),
    path("preferences/", views.preferences, name="preferences"),
    *email_links.urlpatterns,
    *kb_views.urlpatterns,
]
