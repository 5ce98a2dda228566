"""Read endpoints of the category tree and the service catalog (everyone signed in)."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import viewsets

from opora.tickets.api.serializers import CategorySerializer, ServiceSerializer

from .models import Category, Service


class CategoryViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CategorySerializer
    filterset_fields = ["parent", "is_active"]
    ordering_fields = ["position", "name", "code"]
    ordering = ["position", "name"]

    def get_queryset(self) -> QuerySet[Category]:
        return Category.objects.all()


class ServiceViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ServiceSerializer
    filterset_fields = ["is_active", "owner_team"]
    ordering_fields = ["name", "code"]
    ordering = ["name"]

    def get_queryset(self) -> QuerySet[Service]:
        return Service.objects.all()
