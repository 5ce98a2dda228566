"""The self-service portal for requesters."""

from django.urls import path

from . import views

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
]
