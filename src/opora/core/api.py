"""API plumbing shared by every app: pagination and the JSON error shape.

Every error answers ``{"detail": <human message>, "code": <stable code>}`` (plus ``errors`` with
per-field messages for validation problems) with a 4xx status. A 500 on any input is a bug.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers, status
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from opora.tickets.errors import ActionError, StaleTicket


class Pagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but a body nested too deeply to decode is a 400, not a crash."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(_("JSON parse error - the document is nested too deeply.")
                                        ) from exc


class StableOrderingFilter(OrderingFilter):
    """Ordering that always ends with the primary key.

    Rows that tie on the requested columns (same creation time, same priority) would otherwise
    come back in whatever order the database likes on each query, and page 2 could repeat a row
    of page 1 or skip one.
    """

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> list[str]:
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if not ordering:  # keep the queryset's or the model's own order, then break ties
            ordering = list(queryset.query.order_by or queryset.model._meta.ordering or [])
        if not {"pk", "-pk", "id", "-id"} & set(ordering):
            ordering.append("-pk" if ordering and ordering[0].startswith("-") else "pk")
        return ordering


def _first_message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        message = _first_message(value)
        return message if key in ("non_field_errors", "detail") else f"{key}: {message}"
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ActionError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        if exc.field:
            body["errors"] = {exc.field: [exc.message]}
        if isinstance(exc, StaleTicket):
            body["current_version"] = exc.current_version
        # A refusal because of who you are, not of what you sent, is a 403 like the funnel's.
        code = status.HTTP_403_FORBIDDEN if exc.code == "staff_only" else exc.status
        return Response(body, status=code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        return Response({"detail": str(exc) or _("Not found."), "code": "not_found"},
                        status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, PermissionDenied):
        return Response({"detail": str(exc) or _("Permission denied."),
                         "code": "permission_denied"}, status=status.HTTP_403_FORBIDDEN)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail
        response.data = {
            "detail": _first_message(errors),
            "code": "invalid",
            "errors": errors,
        }
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "detail": _first_message(exc.detail),
            "code": codes if isinstance(codes, str) else "error",
        }
    return response
