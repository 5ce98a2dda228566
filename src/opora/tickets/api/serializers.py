"""Explicit input and output serializers of the ticket API.

Input serializers only parse and validate shapes; the rules live in the actions. Output
serializers hide what the requester side must not see (internal events, routing, staff names).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from opora.accounts.models import Organisation, Team, User
from opora.catalog.models import Category, Service
from opora.sla import selectors as sla
from opora.sla.choices import AgreementKind, ClockState, Metric, Outcome
from opora.sla.models import Agreement

from .. import workflow
from ..choices import (
    INTAKE_CHANNEL_CHOICES,
    WORKING_STATUS_CHOICES,
    Channel,
    Level,
    Priority,
    ResolutionCode,
    TicketType,
)
from ..models import Attachment, Ticket, TicketEvent
from ..permissions import can_view_internal

# --- small nested shapes --------------------------------------------------------------------------


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()


class RequesterSerializer(PersonSerializer):
    email = serializers.EmailField()
    phone = serializers.CharField()


class NamedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CodedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, obj: Category | Service) -> str:
        return obj.display_name()


class TeamRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    line = serializers.IntegerField()


def _user(request: Any) -> User:
    return request.user


# --- output -----------------------------------------------------------------------------------


class SlaClockSerializer(serializers.Serializer):
    """One current SLA clock of a ticket (staff only)."""

    metric = serializers.ChoiceField(choices=Metric.choices)
    kind = serializers.ChoiceField(choices=AgreementKind.choices)
    agreement = NamedSerializer()
    state = serializers.ChoiceField(choices=ClockState.choices)
    outcome = serializers.ChoiceField(choices=Outcome.choices, allow_blank=True,
                                      help_text="Empty while pending.")
    target_seconds = serializers.IntegerField()
    used_seconds = serializers.IntegerField(help_text="Business seconds used so far.")
    percent = serializers.FloatField(help_text="Share of the target used, in percent.")
    due_at = serializers.DateTimeField(allow_null=True,
                                       help_text="When a running clock reaches its target.")
    breached_at = serializers.DateTimeField(allow_null=True)


SLA_STATES = [(sla.SlaFilter.BREACHED, "breached"), (ClockState.RUNNING.value, "running"),
              (ClockState.PAUSED.value, "paused"), (ClockState.STOPPED.value, "stopped")]


def _sla_clocks(context: dict[str, Any], ticket: Ticket) -> list[Any] | None:
    """The ticket's current clocks as read by the view (``None``: not shown to this person)."""
    found = context.get("sla_clocks")
    if found is None:
        return None
    clocks: list[Any] = found.get(ticket.pk, [])
    return clocks


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "filename", "content_type", "size", "is_public", "created_at", "url"]

    def get_url(self, obj: Attachment) -> str:
        return reverse("api:attachment-download", kwargs={"pk": obj.pk})


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = TicketEvent
        fields = ["id", "kind", "actor", "channel", "is_public", "body", "data", "created_at",
                  "attachments"]

    @extend_schema_field(PersonSerializer(allow_null=True))
    def get_actor(self, obj: TicketEvent) -> dict[str, Any] | None:
        if obj.actor is None:
            return None
        viewer = _user(self.context["request"])
        if obj.actor.is_agent_side and not can_view_internal(viewer):
            # The requester side talks to "the service desk", not to named L2/L3 engineers.
            return {"id": None, "full_name": str(_("Service desk"))}
        return {"id": obj.actor.pk, "full_name": obj.actor.full_name}


class TicketSerializer(serializers.ModelSerializer):
    """A ticket as a list row."""

    requester = RequesterSerializer()
    organisation = NamedSerializer(allow_null=True)
    category = CodedSerializer(allow_null=True)
    service = CodedSerializer(allow_null=True)
    team = TeamRefSerializer(allow_null=True)
    assignee = PersonSerializer(allow_null=True)
    status_display = serializers.CharField(source="get_status_display")
    priority_display = serializers.CharField(source="get_priority_display")
    type_display = serializers.CharField(source="get_type_display")
    sla_due_at = serializers.SerializerMethodField(
        help_text="Staff only: the earliest due instant of the ticket's running SLA clocks.")
    sla_state = serializers.SerializerMethodField(
        help_text="Staff only: breached (a current clock missed its target), else the state "
                  "of the most urgent clock; null without clocks.")

    class Meta:
        model = Ticket
        fields = [
            "id", "number", "type", "type_display", "title", "status", "status_display",
            "priority", "priority_display", "impact", "urgency", "channel", "requester",
            "organisation", "category", "service", "team", "assignee", "current_line",
            "is_major", "version", "created_at", "updated_at", "first_response_at",
            "escalated_at", "resolved_at", "closed_at", "reopen_count", "sla_due_at",
            "sla_state",
        ]

    HIDDEN_FROM_REQUESTERS = ("team", "assignee", "current_line", "escalated_at", "sla_due_at",
                              "sla_state", "sla")

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_sla_due_at(self, obj: Ticket) -> Any:
        clocks = _sla_clocks(self.context, obj)
        if not clocks:
            return None
        headline = sla.ticket_badge(clocks, self.context["sla_now"])
        if headline is None or headline.due_at is None:
            return None
        return serializers.DateTimeField().to_representation(headline.due_at)

    @extend_schema_field(serializers.ChoiceField(choices=SLA_STATES, allow_null=True))
    def get_sla_state(self, obj: Ticket) -> str | None:
        clocks = _sla_clocks(self.context, obj)
        if not clocks:
            return None
        return sla.ticket_sla_state(clocks, self.context["sla_now"])

    def to_representation(self, instance: Ticket) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not can_view_internal(_user(self.context["request"])):
            for field in self.HIDDEN_FROM_REQUESTERS:
                if field in data:
                    data[field] = None
            if "vendor_reference" in data:
                data["vendor_reference"] = ""
        return data


class TransitionSerializer(serializers.Serializer):
    action = serializers.CharField()
    target = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]


class TicketDetailSerializer(TicketSerializer):
    """A ticket with its description, resolution, watchers, timeline and allowed moves."""

    watchers = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField(
        help_text="Staff only: the ticket's current SLA/OLA clocks; null for requesters.")

    class Meta(TicketSerializer.Meta):
        fields = [
            *TicketSerializer.Meta.fields, "description", "resolution_code", "resolution",
            "vendor_reference", "watchers", "timeline", "allowed_transitions", "sla",
        ]

    @extend_schema_field(SlaClockSerializer(many=True, allow_null=True))
    def get_sla(self, obj: Ticket) -> list[dict[str, Any]] | None:
        clocks = _sla_clocks(self.context, obj)
        if clocks is None:
            return None
        now = self.context["sla_now"]
        shown = []
        for clock in clocks:
            b = sla.badge(clock, now)
            shown.append({
                "metric": clock.metric, "kind": clock.kind,
                "agreement": {"id": clock.agreement_id, "name": clock.agreement.name},
                "state": clock.state, "outcome": clock.outcome,
                "target_seconds": clock.target_seconds, "used_seconds": b.used_seconds,
                "percent": round(b.percent, 1), "due_at": b.due_at,
                "breached_at": clock.breached_at,
            })
        return SlaClockSerializer(shown, many=True).data  # type: ignore[return-value]

    @extend_schema_field(PersonSerializer(many=True))
    def get_watchers(self, obj: Ticket) -> list[dict[str, Any]]:
        people = list(obj.watchers.all())
        if not can_view_internal(_user(self.context["request"])):
            # The requester side sees which of its own people follow the ticket, never which
            # engineers do (staff names stay inside the desk).
            people = [person for person in people if not person.is_agent_side]
        return PersonSerializer(people, many=True).data  # type: ignore[return-value]

    @extend_schema_field(EventSerializer(many=True))
    def get_timeline(self, obj: Ticket) -> list[dict[str, Any]]:
        events = self.context["timeline"]
        return EventSerializer(events, many=True, context=self.context).data  # type: ignore[return-value]

    @extend_schema_field(TransitionSerializer(many=True))
    def get_allowed_transitions(self, obj: Ticket) -> list[dict[str, Any]]:
        moves = workflow.allowed_transitions(obj, _user(self.context["request"]))
        return [{"action": m.action, "target": m.target.value, "label": str(m.label)} for m in moves]


# --- input ------------------------------------------------------------------------------------


class VersionedInput(serializers.Serializer):
    version = serializers.IntegerField(
        required=False, min_value=1,
        help_text="The version you last saw; a stale one is refused with 409 "
                  "(the If-Match header works too).",
    )


class TicketCreateInput(serializers.Serializer):
    title = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    type = serializers.ChoiceField(choices=TicketType.choices, default=TicketType.INCIDENT)
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.filter(is_active=True), required=False, allow_null=True)
    service = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.filter(is_active=True), required=False, allow_null=True)
    impact = serializers.ChoiceField(choices=Level.choices, default=Level.MEDIUM)
    urgency = serializers.ChoiceField(choices=Level.choices, default=Level.MEDIUM)
    requester = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False,
        help_text="Staff only: register on someone's behalf. Defaults to you.")
    channel = serializers.ChoiceField(
        choices=INTAKE_CHANNEL_CHOICES,
        default=Channel.API, help_text="Staff only; requesters' tickets are recorded as 'api'.")
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.filter(is_active=True), required=False, allow_null=True,
        help_text="Staff only.")
    is_major = serializers.BooleanField(default=False, help_text="Staff only.")
    attachments = serializers.ListField(
        child=serializers.FileField(), required=False, default=list,
        help_text="Files, as multipart/form-data.")


class ReplyInput(VersionedInput):
    body = serializers.CharField(required=False, allow_blank=True, default="")
    attachments = serializers.ListField(child=serializers.FileField(), required=False,
                                        default=list)


class AssignInput(VersionedInput):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, allow_null=True)
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "assignee" not in attrs and "team" not in attrs:
            raise serializers.ValidationError(_("Choose an assignee or a team."))
        return attrs


class EscalateInput(VersionedInput):
    to_team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all())
    summary = serializers.CharField(help_text="What was done and found: steps, error codes, logs.")
    vendor_reference = serializers.CharField(required=False, allow_blank=True, default="",
                                             max_length=200)


class StatusInput(VersionedInput):
    status = serializers.ChoiceField(choices=WORKING_STATUS_CHOICES)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ResolveInput(VersionedInput):
    code = serializers.ChoiceField(choices=ResolutionCode.choices)
    resolution = serializers.CharField()


class CloseInput(VersionedInput):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ReasonInput(VersionedInput):
    reason = serializers.CharField()


class TicketUpdateInput(VersionedInput):
    title = serializers.CharField(max_length=255, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    type = serializers.ChoiceField(choices=TicketType.choices, required=False)
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True)
    service = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.all(), required=False, allow_null=True)
    impact = serializers.ChoiceField(choices=Level.choices, required=False)
    urgency = serializers.ChoiceField(choices=Level.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    is_major = serializers.BooleanField(required=False)
    sla_agreement = serializers.PrimaryKeyRelatedField(
        queryset=Agreement.objects.all(), required=False, allow_null=True,
        help_text="Team leads, desk managers and administrators: the customer agreement (SLA) "
                  "set by hand; null lets the rules choose again.")


class WatcherInput(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())


# --- directory read endpoints ---------------------------------------------------------------


class UserSerializer(serializers.ModelSerializer):
    organisation = NamedSerializer(allow_null=True)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "phone", "role", "organisation", "language",
                  "time_zone", "is_active"]


class OrganisationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "name", "short_name", "email_domain", "phone", "is_active"]


class TeamSerializer(serializers.ModelSerializer):
    members = PersonSerializer(many=True)

    class Meta:
        model = Team
        fields = ["id", "name", "line", "speciality", "email", "is_active", "members"]


class CategorySerializer(serializers.ModelSerializer):
    display_name = serializers.SerializerMethodField()

    class Meta:
        model = Category
        fields = ["id", "code", "name", "name_en", "display_name", "parent", "is_active"]

    def get_display_name(self, obj: Category) -> str:
        return obj.display_name()


class ServiceSerializer(serializers.ModelSerializer):
    display_name = serializers.SerializerMethodField()

    class Meta:
        model = Service
        fields = ["id", "code", "name", "name_en", "display_name", "description", "owner_team",
                  "is_active"]

    def get_display_name(self, obj: Service) -> str:
        return obj.display_name()
