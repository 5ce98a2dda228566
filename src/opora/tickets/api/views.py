"""Ticket API: thin adapters — parse input, check access through the funnel, call the action,
render the result."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import F, OrderBy, Prefetch, QuerySet
from django.http import FileResponse, Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from opora.accounts.models import User
from opora.core.api import JSONParser, StableOrderingFilter
from opora.sla import selectors as sla

from .. import actions, selectors
from ..attachments import CheckedUpload, check_upload
from ..choices import Channel
from ..errors import ActionError
from ..filtersets import ORDERING_FIELDS, TicketFilter
from ..models import Attachment, Ticket
from ..permissions import Need, access_ticket, can, can_view_internal
from . import serializers as s

API = Channel.API
#: An entity tag as the API sends it: the version in quotes, possibly marked weak.
_ETAG = re.compile(r'(?:W/)?"?([0-9]{1,18})"?', re.ASCII)


def expected_version(request: Request, data: dict[str, Any]) -> int | None:
    """The version the client last saw: the ``version`` field or an ``If-Match`` header."""
    if data.get("version"):
        return int(data["version"])
    header = request.headers.get("If-Match", "").strip()
    if header and header != "*":  # "*" asks for no particular version
        # ASCII digits only: ``str.isdigit`` also accepts "²", which ``int`` refuses.
        match = _ETAG.fullmatch(header)
        if match is None:
            raise ActionError(_("If-Match must be a ticket version number."), code="invalid",
                              field="version")
        return int(match.group(1))
    return None


def uploads(files: list[Any]) -> list[CheckedUpload]:
    return [check_upload(f, f.name, f.size) for f in files]


class TicketOrderingFilter(StableOrderingFilter):
    """The stable ordering, plus ``sla_due``: the earliest due instant of the ticket's running
    SLA clocks, annotated only when asked for; tickets without one come last either way."""

    SLA_DUE = "sla_due"

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any
                        ) -> QuerySet[Any]:
        ordering = self.get_ordering(request, queryset, view)
        if not ordering or not any(t.lstrip("-") == self.SLA_DUE for t in ordering):
            return super().filter_queryset(request, queryset, view)
        terms: list[str | OrderBy] = []
        for term in ordering:
            if term.lstrip("-") == self.SLA_DUE:
                column = F(self.SLA_DUE)
                terms.append(column.desc(nulls_last=True) if term.startswith("-")
                             else column.asc(nulls_last=True))
            else:
                terms.append(term)
        return queryset.annotate(sla_due=sla.due_subquery()).order_by(*terms)


class TicketViewSet(
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Tickets: list, create, read with the timeline, change through the actions."""

    filterset_class = TicketFilter
    filter_backends = [DjangoFilterBackend, TicketOrderingFilter]
    ordering_fields = ORDERING_FIELDS
    ordering = ["-created_at"]
    lookup_value_regex = r"[A-Za-z]{3}-\d+|\d+"
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    serializer_class = s.TicketSerializer

    def get_queryset(self) -> QuerySet[Ticket]:
        return selectors.ticket_list(self.request.user)  # type: ignore[arg-type]

    def _sla_context(self, tickets: list[Ticket]) -> dict[str, Any]:
        """The current SLA clocks of the tickets shown (one query), for the desk only."""
        if not can_view_internal(self.request.user):  # type: ignore[arg-type]
            return {}
        return {"sla_clocks": sla.clocks_for_tickets(t.pk for t in tickets),
                "sla_now": timezone.now()}

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page) if page is not None else list(queryset)
        context = {**self.get_serializer_context(), **self._sla_context(rows)}
        data = self.get_serializer(rows, many=True, context=context).data
        if page is not None:
            return self.get_paginated_response(data)
        return Response(data)

    def _ticket(self, need: Need) -> Ticket:
        return access_ticket(self.request.user, self.kwargs["pk"], need=need)  # type: ignore[arg-type]

    def _detail(self, ticket: Ticket, code: int = status.HTTP_200_OK) -> Response:
        user: User = self.request.user  # type: ignore[assignment]
        ticket = (
            Ticket.objects.for_list()
            .prefetch_related(Prefetch("watchers", queryset=User.objects.order_by("full_name")))
            .get(pk=ticket.pk)
        )
        context = {**self.get_serializer_context(), "timeline": selectors.timeline(ticket, user),
                   **self._sla_context([ticket])}
        data = s.TicketDetailSerializer(ticket, context=context).data
        return Response(data, status=code, headers={"ETag": f'"{ticket.version}"'})

    def _input(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(request=s.TicketCreateInput, responses={201: s.TicketDetailSerializer})
    def create(self, request: Request) -> Response:
        data = self._input(s.TicketCreateInput)
        user: User = request.user  # type: ignore[assignment]
        staff = can_view_internal(user)
        requester = data.get("requester") or user
        ticket = actions.open_ticket(
            requester=requester,
            title=data["title"],
            description=data["description"],
            ticket_type=data["type"],
            channel=data["channel"] if staff else API,
            actor=user,
            category=data.get("category"),
            service=data.get("service"),
            impact=int(data["impact"]),
            urgency=int(data["urgency"]),
            team=data.get("team") if staff else None,
            is_major=data["is_major"] if staff else False,
            attachments=uploads(data["attachments"]),
        )
        return self._detail(ticket, status.HTTP_201_CREATED)

    @extend_schema(responses=s.TicketDetailSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return self._detail(self._ticket("view"))

    @extend_schema(request=s.TicketUpdateInput, responses=s.TicketDetailSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        ticket = self._ticket("work")
        data = self._input(s.TicketUpdateInput)
        if "sla_agreement" in data and not sla.can_choose_agreement(request.user):  # type: ignore[arg-type]
            raise exceptions.PermissionDenied(
                _("Only team leads, desk managers and administrators may choose the agreement."))
        version = expected_version(request, data)
        data.pop("version", None)
        for key in ("impact", "urgency", "priority"):
            if key in data:
                data[key] = int(data[key])
        ticket = actions.update_fields(ticket, changes=data, actor=request.user,  # type: ignore[arg-type]
                                       channel=API, expected_version=version)
        return self._detail(ticket)

    @extend_schema(request=s.ReplyInput, responses={201: s.TicketDetailSerializer})
    @action(detail=True, methods=["post"])
    def reply(self, request: Request, pk: str) -> Response:
        ticket = self._ticket("reply")
        data = self._input(s.ReplyInput)
        actions.reply(ticket, body=data["body"], actor=request.user, channel=API,  # type: ignore[arg-type]
                      attachments=uploads(data["attachments"]),
                      expected_version=expected_version(request, data))
        return self._detail(ticket, status.HTTP_201_CREATED)

    @extend_schema(request=s.ReplyInput, responses={201: s.TicketDetailSerializer})
    @action(detail=True, methods=["post"])
    def note(self, request: Request, pk: str) -> Response:
        ticket = self._ticket("note")
        data = self._input(s.ReplyInput)
        actions.add_note(ticket, body=data["body"], actor=request.user, channel=API,  # type: ignore[arg-type]
                         attachments=uploads(data["attachments"]),
                         expected_version=expected_version(request, data))
        return self._detail(ticket, status.HTTP_201_CREATED)

    @extend_schema(request=s.AssignInput, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        ticket = self._ticket("work")
        data = self._input(s.AssignInput)
        kwargs: dict[str, Any] = {}
        if "assignee" in data:
            kwargs["assignee"] = data["assignee"]
        if "team" in data:
            kwargs["team"] = data["team"]
        ticket = actions.assign(ticket, actor=request.user, channel=API,  # type: ignore[arg-type]
                                expected_version=expected_version(request, data), **kwargs)
        return self._detail(ticket)

    @extend_schema(request=s.EscalateInput, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, pk: str) -> Response:
        ticket = self._ticket("work")
        data = self._input(s.EscalateInput)
        ticket = actions.escalate(ticket, to_team=data["to_team"], summary=data["summary"],
                                  vendor_reference=data["vendor_reference"],
                                  actor=request.user, channel=API,  # type: ignore[arg-type]
                                  expected_version=expected_version(request, data))
        return self._detail(ticket)

    @extend_schema(request=s.StatusInput, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"], url_path="status")
    def change_status(self, request: Request, pk: str) -> Response:
        ticket = self._ticket("work")
        data = self._input(s.StatusInput)
        ticket = actions.change_status(ticket, status=data["status"], comment=data["comment"],
                                       actor=request.user, channel=API,  # type: ignore[arg-type]
                                       expected_version=expected_version(request, data))
        return self._detail(ticket)

    @extend_schema(request=s.ResolveInput, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        ticket = self._ticket("work")
        data = self._input(s.ResolveInput)
        ticket = actions.resolve(ticket, code=data["code"], resolution=data["resolution"],
                                 actor=request.user, channel=API,  # type: ignore[arg-type]
                                 expected_version=expected_version(request, data))
        return self._detail(ticket)

    @extend_schema(request=s.CloseInput, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        ticket = self._ticket("confirm")
        data = self._input(s.CloseInput)
        ticket = actions.close(ticket, comment=data["comment"], actor=request.user,  # type: ignore[arg-type]
                               channel=API, expected_version=expected_version(request, data))
        return self._detail(ticket)

    @extend_schema(request=s.ReasonInput, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str) -> Response:
        ticket = self._ticket("confirm")
        data = self._input(s.ReasonInput)
        ticket = actions.reopen(ticket, reason=data["reason"], actor=request.user,  # type: ignore[arg-type]
                                channel=API, expected_version=expected_version(request, data))
        return self._detail(ticket)

    @extend_schema(request=s.ReasonInput, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        ticket = self._ticket("confirm")
        data = self._input(s.ReasonInput)
        ticket = actions.cancel(ticket, reason=data["reason"], actor=request.user,  # type: ignore[arg-type]
                                channel=API, expected_version=expected_version(request, data))
        return self._detail(ticket)

    def _may_change_watcher(self, ticket: Ticket, person: User) -> None:
        """Anyone who sees the ticket may follow or unfollow it; only staff do it for others."""
        viewer: User = self.request.user  # type: ignore[assignment]
        if person.pk != viewer.pk and not can(viewer, ticket, "work"):
            raise exceptions.PermissionDenied(_("You are not allowed to do this on this ticket."))

    @extend_schema(request=s.WatcherInput, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def watchers(self, request: Request, pk: str) -> Response:
        ticket = self._ticket("view")
        data = self._input(s.WatcherInput)
        self._may_change_watcher(ticket, data["user"])
        ticket = actions.add_watcher(ticket, user=data["user"], actor=request.user,  # type: ignore[arg-type]
                                     channel=API)
        return self._detail(ticket)

    @extend_schema(request=None, responses=s.TicketDetailSerializer,
                   parameters=[OpenApiParameter("user_id", int, OpenApiParameter.PATH)])
    @action(detail=True, methods=["delete"], url_path=r"watchers/(?P<user_id>\d+)")
    def remove_watcher(self, request: Request, pk: str, user_id: str) -> Response:
        ticket = self._ticket("view")
        user = User.objects.filter(pk=int(user_id)).first()
        if user is None:
            raise exceptions.NotFound(_("Unknown user."))
        self._may_change_watcher(ticket, user)
        ticket = actions.remove_watcher(ticket, user=user, actor=request.user,  # type: ignore[arg-type]
                                        channel=API)
        return self._detail(ticket)


class AttachmentDownloadView(APIView):
    """Download an attachment, if its ticket — and, for requesters, the attachment — is visible."""

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request: Request, pk: int) -> FileResponse:
        # One answer for "no such file", "file of a ticket you cannot see" and "internal file":
        # a different message would tell which attachment ids exist.
        not_found = Http404(_("Not found."))
        attachment = Attachment.objects.filter(pk=pk).only("ticket_id", "is_public").first()
        if attachment is None:
            raise not_found
        try:
            access_ticket(request.user, attachment.ticket_id, need="view")  # type: ignore[arg-type]
        except Http404:
            raise not_found from None
        if not attachment.is_public and not can_view_internal(request.user):  # type: ignore[arg-type]
            raise not_found
        attachment = Attachment.objects.get(pk=pk)
        response = FileResponse(attachment.file.open("rb"), as_attachment=True,
                                filename=attachment.filename,
                                content_type=attachment.content_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response
