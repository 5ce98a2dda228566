"""Forms of the agent workspace: they parse and check what a person typed, nothing more.

The domain rules live in ``tickets.actions``; a form only turns POST data into the typed
arguments an action takes, so that the page can show field errors next to the inputs and keep
everything the person typed. Templates render the inputs by hand (no queryset is evaluated just
to draw a ``<select>``: the page passes the option lists it already read), so a form here is
never rendered with ``{{ form }}``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from opora.accounts.models import STAFF_ROLES, Organisation, Team, User
from opora.catalog.models import Category, Service
from opora.tickets.attachments import CheckedUpload, check_upload
from opora.tickets.choices import (
    INTAKE_CHANNEL_CHOICES,
    WORKING_STATUS_CHOICES,
    Channel,
    Level,
    Priority,
    ResolutionCode,
    TicketType,
)
from opora.tickets.errors import ActionError
from opora.tickets.models import Ticket

#: The channels an operator registers a ticket from (a phone call first).
AGENT_INTAKE_CHANNELS = [
    (value, label)
    for value, label in INTAKE_CHANNEL_CHOICES
    if value in (Channel.PHONE, Channel.EMAIL, Channel.AGENT, Channel.MESSENGER, Channel.CHAT)
]
AGENT_INTAKE_CHANNELS.sort(key=lambda c: c[0] != Channel.PHONE)


# --- files ---------------------------------------------------------------------------------------


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files; each goes through ``check_upload`` and fails with its own message."""

    widget = MultipleFileInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[CheckedUpload]:
        files: list[UploadedFile] = [
            f for f in (data if isinstance(data, list | tuple) else [data]) if f
        ]
        checked: list[CheckedUpload] = []
        errors: list[forms.ValidationError] = []
        for upload in files:
            try:
                checked.append(check_upload(upload, upload.name or "file", upload.size))
            except ActionError as exc:
                errors.append(forms.ValidationError(exc.message, code=exc.code))
        if errors:
            raise forms.ValidationError(errors)
        if self.required and not checked:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return checked


# --- the ticket page -----------------------------------------------------------------------------


class TicketForm(forms.Form):
    """A form on the ticket page: it carries the version the person saw (lost-update guard)."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, ticket: Ticket, user: User, **kwargs: Any) -> None:
        self.ticket = ticket
        self.actor = user
        super().__init__(*args, **kwargs)


class MessageForm(TicketForm):
    """A public reply or an internal note: Markdown text and/or files."""

    body = forms.CharField(label=_("Message"), required=False, strip=False,
                           widget=forms.Textarea)
    attachments = MultipleFileField(label=_("Attachments"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("body") or "").strip() and not data.get("attachments") \
                and "attachments" not in self.errors:
            self.add_error("body", _("Write a message or attach a file."))
        return data


class StatusForm(TicketForm):
    status = forms.ChoiceField(label=_("New status"), choices=WORKING_STATUS_CHOICES)
    comment = forms.CharField(label=_("Comment"), required=False, widget=forms.Textarea)


class ResolveForm(TicketForm):
    code = forms.ChoiceField(label=_("Resolution code"), choices=ResolutionCode.choices)
    resolution = forms.CharField(label=_("Resolution"), widget=forms.Textarea,
                                 help_text=_("The requester receives this text."))


class CloseForm(TicketForm):
    comment = forms.CharField(label=_("Comment"), required=False, widget=forms.Textarea)


class ReasonForm(TicketForm):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea)


def staff_users() -> Any:
    return User.objects.filter(is_active=True, role__in=STAFF_ROLES)


class AssignForm(TicketForm):
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.filter(is_active=True))
    assignee = forms.ModelChoiceField(label=_("Agent"), required=False,
                                      queryset=staff_users(),
                                      empty_label=_("Nobody — the team's queue"))


class EscalateForm(TicketForm):
    to_team = forms.ModelChoiceField(label=_("Team of a higher line"),
                                     queryset=Team.objects.none())
    summary = forms.CharField(
        label=_("What was done and found"), widget=forms.Textarea,
        help_text=_("Steps taken, error codes, logs: the next line must not ask again."),
    )
    vendor_reference = forms.CharField(
        label=_("Vendor reference"), required=False, max_length=200,
        help_text=_("Line 4 only: the vendor's ticket number."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["to_team"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Team.objects.filter(is_active=True, line__gt=self.ticket.current_line)


class FieldsForm(TicketForm):
    """Reclassification. Only the fields that differ from the ticket are sent to the action."""

    title = forms.CharField(label=_("Title"), max_length=255)
    type = forms.ChoiceField(label=_("Type"), choices=TicketType.choices)
    category = forms.ModelChoiceField(label=_("Category"), required=False,
                                      queryset=Category.objects.none())
    service = forms.ModelChoiceField(label=_("Service"), required=False,
                                     queryset=Service.objects.none())
    impact = forms.TypedChoiceField(label=_("Impact"), choices=Level.choices, coerce=int)
    urgency = forms.TypedChoiceField(label=_("Urgency"), choices=Level.choices, coerce=int)
    priority = forms.TypedChoiceField(
        label=_("Priority override"), required=False, coerce=int, empty_value=None,
        choices=[("", _("From the matrix")), *Priority.choices],
    )
    is_major = forms.BooleanField(label=_("Major incident"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A ticket may keep an entry that was retired since; the others must be in use.
        for name, model, current in (("category", Category, self.ticket.category_id),
                                     ("service", Service, self.ticket.service_id)):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = model.objects.filter(Q(is_active=True) | Q(pk=current))

    def changes(self) -> dict[str, Any]:
        """The cleaned values that differ from the ticket, as ``update_fields`` takes them."""
        data = self.cleaned_data
        changes: dict[str, Any] = {}
        for name in ("title", "type", "impact", "urgency", "is_major"):
            if data[name] != getattr(self.ticket, name):
                changes[name] = data[name]
        for name in ("category", "service"):
            value = data[name]
            if (value.pk if value else None) != getattr(self.ticket, f"{name}_id"):
                changes[name] = value
        if data["priority"] is not None and data["priority"] != self.ticket.priority:
            changes["priority"] = data["priority"]
        return changes


class WatcherForm(TicketForm):
    user = forms.ModelChoiceField(label=_("Person"), queryset=User.objects.filter(is_active=True))


class RemoveWatcherForm(TicketForm):
    user = forms.ModelChoiceField(label=_("Person"), queryset=User.objects.all())


# --- phone intake --------------------------------------------------------------------------------


class IntakeForm(forms.Form):
    """A ticket registered by an operator on someone's behalf (a phone call, a letter...)."""

    requester = forms.ModelChoiceField(
        label=_("Caller"), queryset=User.objects.filter(is_active=True),
        error_messages={"required": _("Find the caller first (or register them).")},
    )
    title = forms.CharField(label=_("Title"), max_length=255)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea)
    type = forms.ChoiceField(label=_("Type"), choices=TicketType.choices,
                             initial=TicketType.INCIDENT)
    category = forms.ModelChoiceField(label=_("Category"), required=False,
                                      queryset=Category.objects.filter(is_active=True))
    service = forms.ModelChoiceField(label=_("Service"), required=False,
                                     queryset=Service.objects.filter(is_active=True))
    impact = forms.TypedChoiceField(label=_("Impact"), choices=Level.choices, coerce=int,
                                    initial=Level.MEDIUM)
    urgency = forms.TypedChoiceField(label=_("Urgency"), choices=Level.choices, coerce=int,
                                     initial=Level.MEDIUM)
    team = forms.ModelChoiceField(label=_("Team"), required=False,
                                  queryset=Team.objects.filter(is_active=True))
    channel = forms.ChoiceField(label=_("Channel"), choices=AGENT_INTAKE_CHANNELS,
                                initial=Channel.PHONE)
    is_major = forms.BooleanField(label=_("Major incident"), required=False)
    attachments = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args: Any, people: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if people is not None:
            field = self.fields["requester"]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = people


class RequesterForm(forms.Form):
    """A caller the desk does not know yet."""

    full_name = forms.CharField(label=_("Full name"), max_length=200)
    email = forms.EmailField(label=_("Email"))
    phone = forms.CharField(label=_("Phone"), max_length=50, required=False)
    organisation = forms.ModelChoiceField(
        label=_("Organisation"), required=False,
        queryset=Organisation.objects.filter(is_active=True),
        empty_label=_("— none —"),
    )
