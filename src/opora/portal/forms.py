"""Portal forms: parse and check what a requester typed; the writes are ``tickets.actions``.

Everything here speaks to people who are not IT specialists: "how soon does it hurt?" rather
than "urgency", "several people are affected" rather than "impact".
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _

from opora.catalog.models import Service
from opora.tickets.actions import BODY_MAX, TITLE_MAX
from opora.tickets.attachments import CheckedUpload, check_upload
from opora.tickets.choices import Level, TicketType
from opora.tickets.errors import ActionError

from .intake import Question
from .preferences import COMMON_TIME_ZONES, is_valid_time_zone, language_codes

#: More files than this in one message is almost always a mistake (a whole folder picked).
MAX_FILES = 10
QUESTION_MAX = 500

TYPE_CHOICES = [
    (TicketType.INCIDENT.value, _("Something is broken or does not work")),
    (TicketType.REQUEST.value, _("I need something (access, equipment, a program…)")),
    (TicketType.QUESTION.value, _("I have a question")),
]

#: "How soon does it hurt?" — the urgency, phrased for the person who feels it.
URGENCY_CHOICES = [
    (Level.HIGH, _("Right now: I cannot do my work")),
    (Level.MEDIUM, _("Soon: I can work, but it is hard or slow")),
    (Level.LOW, _("It can wait a few days")),
]


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class UploadsField(forms.Field):
    """Several files; each is checked by ``tickets.attachments.check_upload`` and refused with
    its own message (size, type, content). Cleans to a list of ``CheckedUpload``."""

    widget = MultipleFileInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, data: Any) -> list[UploadedFile]:
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [f for f in files if isinstance(f, UploadedFile)]

    def validate(self, value: list[UploadedFile]) -> None:
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")

    def clean(self, value: Any) -> list[CheckedUpload]:
        files = self.to_python(value)
        self.validate(files)
        if len(files) > MAX_FILES:
            raise forms.ValidationError(
                _("Attach at most %(max)d files to one message.") % {"max": MAX_FILES},
                code="too_many_files",
            )
        checked: list[CheckedUpload] = []
        errors: list[forms.ValidationError] = []
        for upload in files:
            try:
                checked.append(check_upload(upload, upload.name or "", upload.size))
            except ActionError as exc:
                errors.append(forms.ValidationError(exc.message, code=exc.code))
        if errors:
            raise forms.ValidationError(errors)
        return checked


def _attrs(**extra: Any) -> dict[str, Any]:
    return {"class": "form-control", **extra}


class NewRequestForm(forms.Form):
    """A new request: the fixed fields, then the questions of its category."""

    title = forms.CharField(
        label=_("In a few words, what is it about?"), max_length=TITLE_MAX,
        help_text=_("For example: “The printer in room 214 does not print”."),
        widget=forms.TextInput(attrs=_attrs(autocomplete="off")),
    )
    description = forms.CharField(
        label=_("Describe it"), max_length=BODY_MAX,
        help_text=_("What happened, what you expected, what you already tried. "
                    "Markdown formatting is supported."),
        widget=forms.Textarea(attrs=_attrs(rows=6)),
    )
    type = forms.ChoiceField(label=_("What kind of request is it?"), choices=TYPE_CHOICES,
                             widget=forms.RadioSelect(attrs={"class": "form-check-input"}))
    service = forms.ModelChoiceField(
        label=_("Which service is it about?"), required=False,
        queryset=Service.objects.filter(is_active=True),
        empty_label=_("I don't know / not listed"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    urgency = forms.TypedChoiceField(label=_("How soon does it hurt?"), choices=URGENCY_CHOICES,
                                     coerce=int, initial=Level.MEDIUM,
                                     widget=forms.RadioSelect(attrs={"class": "form-check-input"}))
    many_affected = forms.BooleanField(
        label=_("Several people or the whole department are affected"), required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    attachments = UploadsField(
        label=_("Files"),
        help_text=_("Screenshots, documents, logs — several files at once are fine."),
        widget=MultipleFileInput(attrs={"class": "form-control"}),
    )

    def __init__(self, *args: Any, questions: Sequence[Question] = (),
                 default_type: str = TicketType.INCIDENT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = tuple(questions)
        self.fields["type"].initial = default_type
        self.fields["service"].label_from_instance = lambda s: s.display_name()  # type: ignore[attr-defined]
        for question in self.questions:
            field: forms.Field
            if question.kind == "date":
                field = forms.DateField(
                    label=question.label, help_text=question.help_text, required=question.required,
                    widget=forms.DateInput(attrs=_attrs(type="date"), format="%Y-%m-%d"),
                )
            else:
                field = forms.CharField(
                    label=question.label, help_text=question.help_text, required=question.required,
                    max_length=QUESTION_MAX, widget=forms.TextInput(attrs=_attrs()),
                )
            self.fields[self.question_field(question)] = field

    @staticmethod
    def question_field(question: Question) -> str:
        return f"q_{question.name}"

    def question_fields(self) -> list[forms.BoundField]:
        return [self[self.question_field(q)] for q in self.questions]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for question in self.questions:
            name = self.question_field(question)
            value = data.get(name)
            if isinstance(value, datetime.date) and value < timezone.localdate():
                self.add_error(name, _("This date is in the past."))
        return data

    def answers(self) -> list[tuple[Question, object]]:
        return [(q, self.cleaned_data.get(self.question_field(q))) for q in self.questions]


class VersionedForm(forms.Form):
    """Every change on a request page carries the version the person was looking at."""

    version = forms.IntegerField(
        widget=forms.HiddenInput, min_value=1,
        error_messages={
            "required": _("This page is out of date. Reload it and try again."),
            "invalid": _("This page is out of date. Reload it and try again."),
            "min_value": _("This page is out of date. Reload it and try again."),
        },
    )

    def __init__(self, *args: Any, version: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if version is not None:
            self.fields["version"].initial = version

    @classmethod
    def refreshed(cls, data: Mapping[str, Any], files: MultiValueDict[str, UploadedFile] | None,
                  *, version: int, prefix: str | None = None) -> VersionedForm:
        """The same typed text bound to the ticket's current version (after a stale submit)."""
        fresh = data.copy() if hasattr(data, "copy") else dict(data)
        fresh[f"{prefix}-version" if prefix else "version"] = str(version)
        return cls(fresh, files, prefix=prefix)


class ReplyForm(VersionedForm):
    body = forms.CharField(
        label=_("Your message"), required=False, max_length=BODY_MAX,
        help_text=_("Markdown formatting is supported."),
        widget=forms.Textarea(attrs=_attrs(rows=4)),
    )
    attachments = UploadsField(label=_("Files"),
                               widget=MultipleFileInput(attrs={"class": "form-control"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not (data.get("body") or "").strip() and not data.get("attachments"):
            raise forms.ValidationError(_("Write a message or attach a file."), code="required")
        return data


class ConfirmForm(VersionedForm):
    """"Confirm the solution": nothing to type."""


class ReopenForm(VersionedForm):
    reason = forms.CharField(
        label=_("What is still not working?"), max_length=BODY_MAX,
        widget=forms.Textarea(attrs=_attrs(rows=3)),
    )


class CancelForm(VersionedForm):
    reason = forms.CharField(
        label=_("Why do you withdraw the request?"), max_length=BODY_MAX,
        help_text=_("For example: “It works again”, “Opened twice by mistake”."),
        widget=forms.Textarea(attrs=_attrs(rows=3)),
    )


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"), widget=forms.Select(attrs={"class": "form-select"}),
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"), widget=forms.Select(attrs={"class": "form-select"}),
        help_text=_("Dates and times are shown in this zone."),
    )
    email_notifications = forms.BooleanField(
        label=_("Email me when my requests change"), required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(self, *args: Any, current_time_zone: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = {"ru": "Русский", "en": "English"}
        self.fields["language"].choices = [(c, names.get(c, c)) for c in language_codes()]  # type: ignore[attr-defined]
        zones = list(COMMON_TIME_ZONES)
        if current_time_zone and current_time_zone not in zones and is_valid_time_zone(
                current_time_zone):
            zones.insert(0, current_time_zone)  # set by an administrator: keep it selectable
        self.fields["time_zone"].choices = [(z, z.replace("_", " ")) for z in zones]  # type: ignore[attr-defined]

    def clean_time_zone(self) -> str:
        value = self.cleaned_data["time_zone"]
        if not is_valid_time_zone(value):
            raise forms.ValidationError(_("Unknown time zone."), code="invalid_choice")
        return str(value)
