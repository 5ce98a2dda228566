"""Directory read endpoints (people, organisations, teams), scoped like everything else."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from opora.tickets.api.serializers import (
    OrganisationSerializer,
    TeamSerializer,
    UserSerializer,
)

from .models import Organisation, Team, User
from .selectors import users_visible_to


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("q", str, description="Text in the name, email or phone number."),
]))
class UserViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = User.objects.none()  # the schema's model; requests use get_queryset()
    serializer_class = UserSerializer
    filterset_fields = ["role", "organisation", "is_active"]
    ordering_fields = ["full_name", "email"]
    ordering = ["full_name"]

    def get_queryset(self) -> QuerySet[User]:
        qs = users_visible_to(self.request.user)  # type: ignore[arg-type]
        text = self.request.query_params.get("q", "").strip()
        if "\x00" in text:
            # PostgreSQL cannot compare text holding a NUL byte: a 400, not a crash.
            raise exceptions.ValidationError(
                {"q": [str(ProhibitNullCharactersValidator.message)]})
        if text:
            qs = qs.filter(Q(full_name__icontains=text) | Q(email__icontains=text)
                           | Q(phone__icontains=text))
        return qs

    @action(detail=False)
    def me(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


class OrganisationViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Organisation.objects.none()
    serializer_class = OrganisationSerializer
    ordering_fields = ["name"]
    ordering = ["name"]

    def get_queryset(self) -> QuerySet[Organisation]:
        user: User = self.request.user  # type: ignore[assignment]
        if user.is_agent_side or user.is_superuser:
            return Organisation.objects.all()
        return Organisation.objects.filter(id__in=[user.organisation_id])


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Team.objects.none()
    serializer_class = TeamSerializer
    filterset_fields = ["line", "is_active"]
    ordering_fields = ["line", "name"]
    ordering = ["line", "name"]

    def get_queryset(self) -> QuerySet[Team]:
        user: User = self.request.user  # type: ignore[assignment]
        if not (user.is_agent_side or user.is_superuser):
            return Team.objects.none()
        return Team.objects.prefetch_related("members")


class TokenInput(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()


class ObtainTokenView(APIView):
    """Exchange an email and password for the API token of that person."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]

    def get_authenticate_header(self, request: Request) -> str:
        # Wrong credentials are a 401 (with the scheme to use), not the 403 DRF answers for a
        # view without authentication classes.
        return "Token"

    @extend_schema(request=TokenInput, responses=TokenOutput, auth=[])
    def post(self, request: Request) -> Response:
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, username=data.validated_data["email"].lower(),
                            password=data.validated_data["password"])
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed(_("Wrong email or password."))
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
