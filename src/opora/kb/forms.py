"""Forms of the knowledge-base pages: parse input only — the actions validate the domain."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from opora.accounts.models import STAFF_ROLES, Organisation, User
from opora.catalog.models import Category, Service

from .choices import LANGUAGES, ArticleType, Visibility


def _staff() -> Any:
    return User.objects.filter(is_active=True, role__in=STAFF_ROLES).order_by("full_name")


class ArticleForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=255,
                            widget=forms.TextInput(attrs={"class": "form-control"}))
    summary = forms.CharField(label=_("Summary"), required=False,
                              widget=forms.Textarea(attrs={"class": "form-control", "rows": 2}))
    body = forms.CharField(
        label=_("Text (Markdown)"), required=False,
        help_text=_("Link another article with [[123]] or [[123|text]]; show an attached image "
                    "with ![description](attachment:ID)."),
        widget=forms.Textarea(attrs={"class": "form-control font-monospace", "rows": 18}))
    type = forms.ChoiceField(label=_("Type"), choices=ArticleType.choices,
                             widget=forms.Select(attrs={"class": "form-select"}))
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGES,
                                 widget=forms.Select(attrs={"class": "form-select"}))
    visibility = forms.ChoiceField(label=_("Visibility"), choices=Visibility.choices,
                                   widget=forms.Select(attrs={"class": "form-select"}))
    organisations = forms.ModelMultipleChoiceField(
        label=_("Organisations"), required=False, queryset=Organisation.objects.all(),
        help_text=_("For the visibility “listed organisations”."),
        widget=forms.SelectMultiple(attrs={"class": "form-select", "size": 4}))
    categories = forms.ModelMultipleChoiceField(
        label=_("Categories"), required=False, queryset=Category.objects.filter(is_active=True),
        widget=forms.SelectMultiple(attrs={"class": "form-select", "size": 5}))
    services = forms.ModelMultipleChoiceField(
        label=_("Services"), required=False, queryset=Service.objects.filter(is_active=True),
        widget=forms.SelectMultiple(attrs={"class": "form-select", "size": 5}))
    tags = forms.CharField(label=_("Tags"), required=False, max_length=500,
                           help_text=_("Separated by commas."),
                           widget=forms.TextInput(attrs={"class": "form-control"}))
    reviewers = forms.ModelMultipleChoiceField(
        label=_("Reviewers"), required=False, queryset=_staff(),
        widget=forms.SelectMultiple(attrs={"class": "form-select", "size": 4}))
    owner = forms.ModelChoiceField(
        label=_("Owner"), required=False, queryset=_staff(),
        help_text=_("Reminded when the article is due for revalidation."),
        widget=forms.Select(attrs={"class": "form-select"}))
    comment = forms.CharField(label=_("What changed"), required=False, max_length=500,
                              widget=forms.TextInput(attrs={"class": "form-control"}))
    version = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1,
                                 widget=forms.HiddenInput)
    translation_of = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1,
                                        widget=forms.HiddenInput)
    ticket = forms.CharField(required=False, max_length=30, widget=forms.HiddenInput)

    def tag_names(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data.get("tags", "").split(",") if t.strip()]


class TransitionForm(forms.Form):
    comment = forms.CharField(required=False, max_length=2000)


class FeedbackForm(forms.Form):
    helpful = forms.TypedChoiceField(choices=[("yes", "yes"), ("no", "no")],
                                     coerce=lambda v: v == "yes")
    comment = forms.CharField(required=False, max_length=2000, widget=forms.Textarea)


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File"))
