"""Admin views of tickets are read-only: every change goes through the actions (API, pages)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Attachment, PriorityMatrixCell, Ticket, TicketEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EventInline(admin.TabularInline):
    model = TicketEvent
    fields = ("created_at", "kind", "actor", "channel", "is_public", "body")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    list_display = ["number", "title", "type", "status", "priority", "team", "assignee",
                    "organisation", "created_at"]
    list_filter = ["status", "type", "priority", "channel", "current_line", "team"]
    search_fields = ["number", "title"]
    list_select_related = ["team", "assignee", "organisation"]
    inlines = [EventInline]


@admin.register(TicketEvent)
class TicketEventAdmin(ReadOnlyAdmin):
    list_display = ["ticket", "kind", "actor", "channel", "is_public", "created_at"]
    list_filter = ["kind", "channel", "is_public"]
    list_select_related = ["ticket", "actor"]


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ["filename", "ticket", "size", "content_type", "created_at"]
    list_select_related = ["ticket"]


@admin.register(PriorityMatrixCell)
class PriorityMatrixAdmin(admin.ModelAdmin):
    list_display = ["impact", "urgency", "priority"]
    list_editable = ["priority"]
    list_display_links = None
