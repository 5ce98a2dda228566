"""Enumerations of the knowledge base: article types, lifecycle states, visibility, events."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ArticleType(models.TextChoices):
    """What an article is for. Each type has its own revalidation period (``revalidation``)."""

    FAQ = "faq", _("FAQ")
    TROUBLESHOOTING = "troubleshooting", _("Troubleshooting / known error")
    INSTRUCTION = "instruction", _("Instruction (SOP)")
    STANDARD = "standard", _("Technical standard / regulation")
    HOWTO = "howto", _("How-to")
    SCRIPT = "script", _("Operator script")


class ArticleStatus(models.TextChoices):
    """draft → in review → published → needs revalidation → archived (see ``workflow``)."""

    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    PUBLISHED = "published", _("Published")
    NEEDS_REVALIDATION = "needs_revalidation", _("Needs revalidation")
    ARCHIVED = "archived", _("Archived")


#: States in which an article is read by the people it is meant for.
READABLE_STATUSES = frozenset({ArticleStatus.PUBLISHED, ArticleStatus.NEEDS_REVALIDATION})


class Visibility(models.TextChoices):
    """Who reads a published article."""

    PUBLIC = "public", _("Public (requesters and staff)")
    INTERNAL = "internal", _("Internal (service desk only)")
    ORGANISATIONS = "organisations", _("Listed organisations (and staff)")


#: How visible each kind is, for broken-link detection: a link may only point "up or level".
VISIBILITY_RANK = {Visibility.PUBLIC: 2, Visibility.ORGANISATIONS: 1, Visibility.INTERNAL: 0}

LANGUAGES = (("ru", "Русский"), ("en", "English"))


class ArticleEventKind(models.TextChoices):
    """Entries of an article's audit timeline (``ArticleEvent``)."""

    CREATED = "created", _("Created")
    UPDATED = "updated", _("Edited")
    SUBMITTED = "submitted", _("Sent for review")
    APPROVED = "approved", _("Approved and published")
    SENT_BACK = "sent_back", _("Sent back for changes")
    PUBLISHED = "published", _("Published")
    WITHDRAWN = "withdrawn", _("Taken back to draft")
    REVALIDATED = "revalidated", _("Confirmed as still valid")
    DUE = "due", _("Due for revalidation")
    ARCHIVED = "archived", _("Archived")
    UNARCHIVED = "unarchived", _("Returned from the archive")
    RESTORED = "restored", _("Version restored")
    ATTACHMENT_ADDED = "attachment_added", _("File attached")
    ATTACHMENT_REMOVED = "attachment_removed", _("File removed")
    TICKET_LINKED = "ticket_linked", _("Linked to a ticket")
    TICKET_UNLINKED = "ticket_unlinked", _("Unlinked from a ticket")
