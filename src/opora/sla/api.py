"""The service-level configuration API: business calendars and agreements (``/api/v1/sla/``).

Staff of the service desk read (an agent may look up which targets apply); service desk
managers and administrators change, through ``sla.actions`` — the same actions the
administration pages call, with the same validation, version bump and audit row.

Writes replace a whole part at a time, as the pages do: ``PUT …/periods/`` all weekly hours,
``PUT …/targets/`` all targets, ``PUT …/thresholds/`` all thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from opora.accounts.models import Organisation, Team, User
from opora.accounts.team_actions import is_desk_manager
from opora.catalog.models import Service
from opora.core.api import JSONParser
from opora.tickets.choices import INTAKE_CHANNEL_CHOICES, Priority, TicketType

from . import actions
from .choices import (
    AgreementKind,
    CalendarDayKind,
    CalendarDaySource,
    Metric,
    PenaltyKind,
    ReopenPolicy,
    RetargetPolicy,
    ThresholdAction,
)
from .models import Agreement, Calendar, CalendarDay, Target, Threshold, WorkingPeriod

# --- schema: enums as components of their own ---------------------------------------------------


class EnumField(serializers.ChoiceField):
    """A choice field documented as its own named enum (``component``), so it never collides
    with another API's enum of the same field name (``kind``, ``metric``...)."""

    def __init__(self, choices: Any, *, component: str, **kwargs: Any) -> None:
        self.component = component
        super().__init__(choices, **kwargs)


class EnumFieldExtension(OpenApiSerializerFieldExtension):
    target_class = EnumField
    match_subclasses = True

    def get_name(self) -> str | None:
        return str(self.target.component)

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        values = list(self.target.choices)
        numbers = all(isinstance(v, int) for v in values)
        schema = build_basic_type(OpenApiTypes.INT if numbers else OpenApiTypes.STR) or {}
        lines = [f"* `{value}` - {label}" for value, label in self.target.choices.items()]
        return {**schema, "enum": values, "description": "\n".join(lines)}


def _kind() -> EnumField:
    return EnumField(AgreementKind.choices, component="SlaAgreementKindEnum")


def _metric() -> EnumField:
    return EnumField(Metric.choices, component="SlaMetricEnum")


def _ticket_type(**kwargs: Any) -> EnumField:
    return EnumField([("", "—"), *TicketType.choices], component="SlaTicketTypeEnum", **kwargs)


def _priority() -> EnumField:
    return EnumField(Priority.choices, component="SlaPriorityEnum")


def _threshold_action() -> EnumField:
    return EnumField(ThresholdAction.choices, component="SlaThresholdActionEnum")


# --- permission ----------------------------------------------------------------------------------


class StaffReadsManagersWrite(permissions.BasePermission):
    """Service desk staff read; managers and administrators (and superusers) write."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (getattr(user, "is_authenticated", False) and user.is_active
                and (user.is_agent_side or user.is_superuser)):
            return False
        return request.method in permissions.SAFE_METHODS or is_desk_manager(user)


def _actor(request: Request) -> User:
    return request.user  # type: ignore[return-value]


# --- calendars: output ---------------------------------------------------------------------------


class WorkingPeriodSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkingPeriod
        fields = ["weekday", "start", "end"]


class CalendarDaySerializer(serializers.ModelSerializer):
    kind = EnumField(CalendarDayKind.choices, component="SlaCalendarDayKindEnum")
    source = EnumField(  # type: ignore[assignment]  # a declared field, not Field.source
        CalendarDaySource.choices, component="SlaCalendarDaySourceEnum")
    periods = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2),
        help_text="Working intervals of a working day: [[start, end], ...] in seconds from "
                  "local midnight.")

    class Meta:
        model = CalendarDay
        fields = ["id", "date", "kind", "periods", "name", "source"]


class CalendarSerializer(serializers.ModelSerializer):
    periods = WorkingPeriodSerializer(many=True, read_only=True,
                                      help_text="Weekly hours: weekday 0 = Monday, start and end "
                                                "in seconds from local midnight (end ≤ 86400).")
    days = CalendarDaySerializer(many=True, read_only=True)

    class Meta:
        model = Calendar
        fields = ["id", "name", "time_zone", "is_24x7", "description", "version", "updated_at",
                  "periods", "days"]


# --- calendars: input ----------------------------------------------------------------------------


class CalendarInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    time_zone = serializers.CharField(max_length=64, help_text="An IANA zone, e.g. Europe/Moscow.")
    is_24x7 = serializers.BooleanField(default=False)
    description = serializers.CharField(allow_blank=True, default="")


class PeriodInput(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6)
    start = serializers.IntegerField(min_value=0, max_value=86400)
    end = serializers.IntegerField(min_value=0, max_value=86400)


class PeriodsInput(serializers.Serializer):
    periods = PeriodInput(many=True)


class DayInput(serializers.Serializer):
    date = serializers.DateField()
    kind = EnumField(CalendarDayKind.choices, component="SlaCalendarDayKindEnum")
    periods = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2),
        default=list, max_length=24)
    name = serializers.CharField(max_length=200, allow_blank=True, default="")


class YearsInput(serializers.Serializer):
    years = serializers.ListField(child=serializers.IntegerField(), min_length=1,
                                  max_length=actions.MAX_YEARS)


class IcalInput(serializers.Serializer):
    file = serializers.FileField()
    year_from = serializers.IntegerField(min_value=actions.FIRST_YEAR,
                                         max_value=actions.LAST_YEAR)
    year_to = serializers.IntegerField(min_value=actions.FIRST_YEAR, max_value=actions.LAST_YEAR)


class DaysLoadedSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    updated = serializers.IntegerField()
    kept = serializers.IntegerField(help_text="Days entered by hand, left as they are.")
    unchanged = serializers.IntegerField()
    removed = serializers.IntegerField()


def _calendar_queryset() -> QuerySet[Calendar]:
    return Calendar.objects.prefetch_related(
        Prefetch("periods", queryset=WorkingPeriod.objects.order_by("weekday", "start")),
        Prefetch("days", queryset=CalendarDay.objects.order_by("date")),
    )


DAY_ID = OpenApiParameter("day_id", int, OpenApiParameter.PATH, description="A calendar day.")


class CalendarViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Business calendars with their weekly hours and exception days."""

    queryset = Calendar.objects.none()  # the schema's model; requests use get_queryset()
    serializer_class = CalendarSerializer
    permission_classes = [StaffReadsManagersWrite]
    parser_classes = [JSONParser]
    filterset_fields = ["is_24x7"]
    ordering_fields = ["name", "time_zone", "updated_at"]
    ordering = ["name"]

    def get_queryset(self) -> QuerySet[Calendar]:
        return _calendar_queryset()

    def _input(self, serializer_class: type[serializers.Serializer], data: Any = None,
               partial: bool = False) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data if data is None else data,
                                      partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _show(self, calendar: Calendar, code: int = status.HTTP_200_OK) -> Response:
        return Response(CalendarSerializer(_calendar_queryset().get(pk=calendar.pk)).data,
                        status=code)

    @extend_schema(request=CalendarInput, responses={201: CalendarSerializer})
    def create(self, request: Request) -> Response:
        data = self._input(CalendarInput)
        calendar = actions.create_calendar(**data, actor=_actor(request))
        return self._show(calendar, status.HTTP_201_CREATED)

    @extend_schema(request=CalendarInput, responses=CalendarSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        calendar = self.get_object()
        data = self._input(CalendarInput, partial=True)
        values = {"name": calendar.name, "time_zone": calendar.time_zone,
                  "is_24x7": calendar.is_24x7, "description": calendar.description, **data}
        actions.update_calendar(calendar, **values, actor=_actor(request))
        return self._show(calendar)

    @extend_schema(request=PeriodsInput, responses=CalendarSerializer)
    @action(detail=True, methods=["put"])
    def periods(self, request: Request, pk: str) -> Response:
        """Replace all weekly hours."""
        calendar = self.get_object()
        data = self._input(PeriodsInput)
        actions.set_weekly_hours(
            calendar, periods=[(p["weekday"], p["start"], p["end"]) for p in data["periods"]],
            actor=_actor(request))
        return self._show(calendar)

    @extend_schema(request=DayInput, responses={201: CalendarDaySerializer})
    @action(detail=True, methods=["post"], url_path="days")
    def add_day(self, request: Request, pk: str) -> Response:
        """Add an exception day (entered by hand: later loads keep it)."""
        calendar = self.get_object()
        data = self._input(DayInput)
        day = actions.add_calendar_day(calendar, **data, actor=_actor(request))
        return Response(CalendarDaySerializer(day).data, status=status.HTTP_201_CREATED)

    def _day(self, day_id: str) -> CalendarDay:
        calendar = self.get_object()
        day = calendar.days.filter(pk=day_id).first() if day_id.isdigit() else None
        if day is None:
            raise Http404
        day.calendar = calendar
        return day

    @extend_schema(methods=["patch"], parameters=[DAY_ID], request=DayInput,
                   responses=CalendarDaySerializer)
    @extend_schema(methods=["delete"], parameters=[DAY_ID], request=None, responses={204: None})
    @action(detail=True, methods=["patch", "delete"], url_path=r"days/(?P<day_id>[0-9]+)")
    def day(self, request: Request, pk: str, day_id: str) -> Response:
        """Change an exception day (it becomes the administrator's own) or delete it."""
        day = self._day(day_id)
        if request.method == "DELETE":
            actions.delete_calendar_day(day, actor=_actor(request))
            return Response(status=status.HTTP_204_NO_CONTENT)
        data = self._input(DayInput, partial=True)
        values = {"date": day.date, "kind": day.kind, "periods": day.periods, "name": day.name,
                  **data}
        actions.update_calendar_day(day, **values, actor=_actor(request))
        return Response(CalendarDaySerializer(day).data)

    @extend_schema(request=YearsInput, responses=DaysLoadedSerializer)
    @action(detail=True, methods=["post"], url_path="load-production")
    def load_production(self, request: Request, pk: str) -> Response:
        """Load the Russian production calendar for the years (days entered by hand are
        kept)."""
        calendar = self.get_object()
        data = self._input(YearsInput)
        result = actions.load_production_calendar(calendar, years=data["years"],
                                                  actor=_actor(request))
        return Response(DaysLoadedSerializer(result.as_dict()).data)

    @extend_schema(request={"multipart/form-data": IcalInput}, responses=DaysLoadedSerializer)
    @action(detail=True, methods=["post"], url_path="import-ical",
            parser_classes=[MultiPartParser, FormParser])
    def import_ical(self, request: Request, pk: str) -> Response:
        """Import the holidays of an iCalendar file for ``year_from``…``year_to``."""
        calendar = self.get_object()
        data = self._input(IcalInput)
        first, last = data["year_from"], data["year_to"]
        if last < first:
            raise serializers.ValidationError({"year_to": ["The last year comes first."]})
        if last - first >= actions.MAX_YEARS:
            raise serializers.ValidationError(
                {"year_to": [f"At most {actions.MAX_YEARS} years at a time."]})
        upload = data["file"]
        if upload.size > actions.MAX_ICAL_BYTES:
            raise serializers.ValidationError({"file": ["The file is too large."]})
        result = actions.import_ical(calendar, data=upload.read(), years=range(first, last + 1),
                                     actor=_actor(request))
        return Response(DaysLoadedSerializer(result.as_dict()).data)


# --- agreements ----------------------------------------------------------------------------------


class ConditionsSerializer(serializers.Serializer):
    """Rule conditions of an SLA without an organisation: all must hold; a list means "any
    of"."""

    type = serializers.ListField(child=EnumField(TicketType.choices,
                                                 component="SlaConditionTypeEnum"),
                                 required=False, max_length=10)
    channel = serializers.ListField(child=EnumField(INTAKE_CHANNEL_CHOICES,
                                                    component="SlaConditionChannelEnum"),
                                    required=False, max_length=20)
    category = serializers.ListField(child=serializers.IntegerField(), required=False,
                                     max_length=500, help_text="Category ids.")
    service = serializers.ListField(child=serializers.IntegerField(), required=False,
                                    max_length=500, help_text="Service ids.")
    priority = serializers.ListField(child=_priority(), required=False, max_length=5)
    is_major = serializers.BooleanField(required=False)


class TargetSerializer(serializers.ModelSerializer):
    metric = _metric()
    priority = _priority()
    ticket_type = _ticket_type()

    class Meta:
        model = Target
        fields = ["metric", "priority", "ticket_type", "seconds", "business_hours"]


class ThresholdSerializer(serializers.ModelSerializer):
    actions = serializers.ListField(child=_threshold_action())

    class Meta:
        model = Threshold
        fields = ["percent", "actions", "escalate_to"]


class AgreementSerializer(serializers.ModelSerializer):
    kind = _kind()
    reopen_policy = EnumField(ReopenPolicy.choices, component="SlaReopenPolicyEnum")
    retarget_policy = EnumField(RetargetPolicy.choices, component="SlaRetargetPolicyEnum")
    penalty_kind = EnumField(PenaltyKind.choices, component="SlaPenaltyKindEnum")
    conditions = ConditionsSerializer()
    targets = TargetSerializer(many=True, read_only=True)
    thresholds = ThresholdSerializer(many=True, read_only=True)

    class Meta:
        model = Agreement
        fields = ["id", "kind", "name", "is_active", "is_default", "order", "organisation",
                  "service", "team", "conditions", "calendar", "reopen_policy",
                  "retarget_policy", "compliance_target", "monthly_fee", "penalty_kind",
                  "penalty_percent", "penalty_cap_percent", "version", "updated_at", "targets",
                  "thresholds"]


class AgreementInput(serializers.Serializer):
    kind = _kind()
    name = serializers.CharField(max_length=200)
    calendar = serializers.PrimaryKeyRelatedField(queryset=Calendar.objects.all())
    is_active = serializers.BooleanField(default=True)
    is_default = serializers.BooleanField(default=False)
    order = serializers.IntegerField(min_value=0, max_value=1_000_000, default=100)
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all(),
                                                      allow_null=True, default=None)
    service = serializers.PrimaryKeyRelatedField(queryset=Service.objects.all(),
                                                 allow_null=True, default=None)
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), allow_null=True,
                                              default=None)
    conditions = ConditionsSerializer(default=dict)
    reopen_policy = EnumField(ReopenPolicy.choices, component="SlaReopenPolicyEnum",
                              default=ReopenPolicy.RESUME)
    retarget_policy = EnumField(RetargetPolicy.choices, component="SlaRetargetPolicyEnum",
                                default=RetargetPolicy.KEEP_START)
    compliance_target = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0,
                                                 max_value=100, default=Decimal("95"))
    monthly_fee = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0,
                                           default=Decimal("0"))
    penalty_kind = EnumField(PenaltyKind.choices, component="SlaPenaltyKindEnum", default="")
    penalty_percent = serializers.DecimalField(max_digits=6, decimal_places=2, min_value=0,
                                               max_value=100, default=Decimal("0"))
    penalty_cap_percent = serializers.DecimalField(max_digits=6, decimal_places=2, min_value=0,
                                                   max_value=100, default=Decimal("100"))


class TargetInput(serializers.Serializer):
    metric = _metric()
    priority = _priority()
    ticket_type = _ticket_type(default="")
    seconds = serializers.IntegerField(min_value=actions.MIN_TARGET_SECONDS,
                                       max_value=actions.MAX_TARGET_SECONDS)
    business_hours = serializers.BooleanField(default=True)


class TargetsInput(serializers.Serializer):
    targets = serializers.ListField(child=TargetInput(), max_length=200)


class ThresholdInput(serializers.Serializer):
    percent = serializers.IntegerField(min_value=1, max_value=500)
    actions = serializers.ListField(child=_threshold_action(), max_length=10)
    escalate_to = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(),
                                                     allow_null=True, default=None)


class ThresholdsInput(serializers.Serializer):
    thresholds = serializers.ListField(child=ThresholdInput(), max_length=actions.MAX_THRESHOLDS)


AGREEMENT_FIELDS: Sequence[str] = [
    "kind", "name", "calendar", "is_active", "is_default", "order", "organisation", "service",
    "team", "conditions", "reopen_policy", "retarget_policy", "compliance_target",
    "monthly_fee", "penalty_kind", "penalty_percent", "penalty_cap_percent",
]


def _agreement_queryset() -> QuerySet[Agreement]:
    return Agreement.objects.prefetch_related(
        Prefetch("targets", queryset=Target.objects.order_by("metric", "priority",
                                                             "ticket_type")),
        Prefetch("thresholds", queryset=Threshold.objects.order_by("percent")),
    )


class AgreementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    """SLAs, OLAs and underpinning contracts with their targets and thresholds."""

    queryset = Agreement.objects.none()
    serializer_class = AgreementSerializer
    permission_classes = [StaffReadsManagersWrite]
    parser_classes = [JSONParser]
    filterset_fields = ["kind", "is_active", "organisation", "team", "calendar"]
    ordering_fields = ["name", "kind", "order", "updated_at"]
    ordering = ["kind", "order", "name"]

    def get_queryset(self) -> QuerySet[Agreement]:
        return _agreement_queryset()

    def _input(self, serializer_class: type[serializers.Serializer],
               partial: bool = False) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _show(self, agreement: Agreement, code: int = status.HTTP_200_OK) -> Response:
        return Response(AgreementSerializer(_agreement_queryset().get(pk=agreement.pk)).data,
                        status=code)

    @staticmethod
    def _conditions(data: dict[str, Any]) -> None:
        if "conditions" in data:
            data["conditions"] = {k: v for k, v in dict(data["conditions"]).items()
                                  if v not in ([], None)}

    @extend_schema(request=AgreementInput, responses={201: AgreementSerializer})
    def create(self, request: Request) -> Response:
        data = self._input(AgreementInput)
        self._conditions(data)
        agreement = actions.create_agreement(**data, actor=_actor(request))
        return self._show(agreement, status.HTTP_201_CREATED)

    @extend_schema(request=AgreementInput, responses=AgreementSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        agreement = self.get_object()
        data = self._input(AgreementInput, partial=True)
        self._conditions(data)
        values = {field: getattr(agreement, field) for field in AGREEMENT_FIELDS}
        values.update(data)
        actions.update_agreement(agreement, **values, actor=_actor(request))
        return self._show(agreement)

    @extend_schema(request=TargetsInput, responses=AgreementSerializer)
    @action(detail=True, methods=["put"])
    def targets(self, request: Request, pk: str) -> Response:
        """Replace all targets."""
        agreement = self.get_object()
        data = self._input(TargetsInput)
        actions.set_targets(agreement, targets=[
            actions.TargetSpec(t["metric"], t["priority"], t["ticket_type"], t["seconds"],
                               t["business_hours"])
            for t in data["targets"]], actor=_actor(request))
        return self._show(agreement)

    @extend_schema(request=ThresholdsInput, responses=AgreementSerializer)
    @action(detail=True, methods=["put"])
    def thresholds(self, request: Request, pk: str) -> Response:
        """Replace all thresholds."""
        agreement = self.get_object()
        data = self._input(ThresholdsInput)
        actions.set_thresholds(agreement, thresholds=[
            actions.ThresholdSpec(t["percent"], t["actions"], t["escalate_to"])
            for t in data["thresholds"]], actor=_actor(request))
        return self._show(agreement)

    @extend_schema(request=None, responses=AgreementSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str) -> Response:
        """Stop applying the agreement (refused for the default SLA)."""
        agreement = self.get_object()
        actions.deactivate_agreement(agreement, actor=_actor(request))
        return self._show(agreement)

    @extend_schema(request=None, responses=AgreementSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str) -> Response:
        """Apply a deactivated agreement again."""
        agreement = self.get_object()
        actions.activate_agreement(agreement, actor=_actor(request))
        return self._show(agreement)


__all__ = ["AgreementViewSet", "CalendarViewSet"]
