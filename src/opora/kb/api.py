"""The knowledge-base API, ``/api/v1/kb/articles/``.

Everyone signed in reads through the funnel (``articles_visible_to``): requesters get published
public articles and those of their organisation, in a shorter shape without the desk's details.
The service desk writes through ``kb.actions``: create, edit (with the ``version`` read, 409 when
stale) and lifecycle moves (``POST …/{id}/transition/``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request
from rest_framework.response import Response

from opora.accounts.models import Organisation, User
from opora.catalog.models import Category, Service
from opora.sla.api import EnumField
from opora.tickets.errors import ActionError

from . import actions, workflow
from .choices import LANGUAGES, ArticleStatus, ArticleType, Visibility
from .filtersets import ORDERING_FIELDS, ArticleFilter, order
from .models import Article
from .permissions import access_article
from .querysets import articles_visible_to, is_staff


def _type(**kwargs: Any) -> EnumField:
    return EnumField(ArticleType.choices, component="KbArticleTypeEnum", **kwargs)


def _visibility(**kwargs: Any) -> EnumField:
    return EnumField(Visibility.choices, component="KbVisibilityEnum", **kwargs)


def _language(**kwargs: Any) -> EnumField:
    return EnumField(LANGUAGES, component="KbLanguageEnum", **kwargs)


class ArticlePublicSerializer(serializers.ModelSerializer):
    """What every reader gets."""

    type = _type()
    language = _language()
    tags = serializers.SerializerMethodField()
    categories: Any = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    services: Any = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Article
        fields = ["id", "title", "summary", "body", "language", "type", "categories", "services",
                  "tags", "translation_of", "view_count", "updated_at", "published_at", "url"]
        read_only_fields = fields

    def get_tags(self, article: Article) -> list[str]:
        return [t.name for t in article.tags.all()]

    def get_url(self, article: Article) -> str:
        return reverse("portal:article", args=[article.pk])


class ArticleStaffSerializer(ArticlePublicSerializer):
    """The service desk's shape: lifecycle, visibility, people, revalidation date."""

    status = EnumField(ArticleStatus.choices, component="KbArticleStatusEnum", read_only=True)
    visibility = _visibility(read_only=True)
    organisations: Any = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    reviewers: Any = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    author = serializers.SerializerMethodField()
    owner: Any = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta(ArticlePublicSerializer.Meta):
        fields = [*ArticlePublicSerializer.Meta.fields, "status", "visibility", "organisations",
                  "reviewers", "author", "owner", "version", "revalidate_on", "created_at"]
        read_only_fields = fields

    def get_author(self, article: Article) -> dict[str, Any]:
        return {"id": article.author_id, "name": article.author.full_name}

    def get_url(self, article: Article) -> str:
        return reverse("kb:article", args=[article.pk])


class ArticleInput(serializers.Serializer):
    title = serializers.CharField(max_length=255)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=200_000)
    body = serializers.CharField(required=False, allow_blank=True, max_length=200_000)
    language = _language(required=False)
    type = _type(required=False)
    visibility = _visibility(required=False)
    organisations = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Organisation.objects.all())
    categories = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Category.objects.all())
    services = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Service.objects.all())
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False,
                                 max_length=50)
    reviewers = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=User.objects.filter(is_active=True))
    translation_of = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                              max_value=2**31 - 1)


class ArticleUpdateInput(ArticleInput):
    title = serializers.CharField(max_length=255, required=False)
    version = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1,
                                       help_text="The version read; a newer one answers 409.")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=500)


class TransitionInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=[t.action for t in workflow.TRANSITIONS])
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ArticleOrdering(BaseFilterBackend):
    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        return order(queryset, request.query_params.get("ordering"))

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        values = [f"{p}{f}" for f in ORDERING_FIELDS for p in ("", "-")]
        return [{"name": "ordering", "required": False, "in": "query",
                 "description": "Sort by one field; a leading - reverses.",
                 "schema": {"type": "string", "enum": values}}]


def _staff_only(user: Any) -> None:
    if not is_staff(user):
        raise ActionError("Only the service desk may change articles.", code="staff_only")


class ArticleViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Articles: list and read for everyone through the funnel; writes for the service desk."""

    filterset_class = ArticleFilter
    filter_backends = [DjangoFilterBackend, ArticleOrdering]
    serializer_class = ArticleStaffSerializer

    def get_queryset(self) -> QuerySet[Article]:
        qs = articles_visible_to(self.request.user).prefetch_related(
            "tags", "categories", "services")
        if is_staff(self.request.user):
            qs = qs.select_related("author").prefetch_related("organisations", "reviewers")
        return qs

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return ArticleStaffSerializer if is_staff(self.request.user) else ArticlePublicSerializer

    def _show(self, article: Article, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=article.pk)
        return Response(self.get_serializer_class()(fresh).data, status=code)

    def _relations(self, data: dict[str, Any]) -> dict[str, Any]:
        return {k: data[k] for k in ("organisations", "categories", "services", "tags",
                                     "reviewers") if k in data}

    @extend_schema(responses=ArticleStaffSerializer,
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)])
    def retrieve(self, request: Request, pk: str) -> Response:
        return self._show(access_article(request.user, pk))

    @extend_schema(request=ArticleInput, responses={201: ArticleStaffSerializer})
    def create(self, request: Request) -> Response:
        _staff_only(request.user)
        serializer = ArticleInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        original = None
        if data.get("translation_of"):
            original = access_article(request.user, data["translation_of"])
        article = actions.create_article(
            title=data["title"], summary=data.get("summary", ""), body=data.get("body", ""),
            language=data.get("language", "ru"), type=data.get("type", ArticleType.HOWTO),
            visibility=data.get("visibility", Visibility.INTERNAL), translation_of=original,
            actor=request.user,  # type: ignore[arg-type]
            **self._relations(data),
        )
        return self._show(article, status.HTTP_201_CREATED)

    @extend_schema(request=ArticleUpdateInput, responses=ArticleStaffSerializer,
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)])
    def partial_update(self, request: Request, pk: str) -> Response:
        _staff_only(request.user)
        article = access_article(request.user, pk)
        serializer = ArticleUpdateInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        changes = {k: data[k] for k in actions.SCALAR_FIELDS if k in data}
        changes.update(self._relations(data))
        updated = actions.update_article(
            article, changes=changes, actor=request.user,  # type: ignore[arg-type]
            expected_version=data.get("version"), comment=data.get("comment", ""),
        )
        return self._show(updated)

    @extend_schema(request=TransitionInput, responses=ArticleStaffSerializer,
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)])
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str) -> Response:
        _staff_only(request.user)
        article = access_article(request.user, pk)
        serializer = TransitionInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        moved = actions.transition(
            article, action=serializer.validated_data["action"],
            comment=serializer.validated_data.get("comment", ""),
            actor=request.user,  # type: ignore[arg-type]
        )
        return self._show(moved)
