"""People, the organisations they belong to, and the support teams (lines L1–L4)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """What a person is in Opora. Staff roles work tickets; the others open and follow them."""

    REQUESTER = "requester", _("Requester")
    ORG_MANAGER = "org_manager", _("Organisation manager")
    AGENT = "agent", _("Agent")
    TEAM_LEAD = "team_lead", _("Team lead")
    DESK_MANAGER = "desk_manager", _("Service desk manager")
    ADMIN = "admin", _("Administrator")


STAFF_ROLES = frozenset({Role.AGENT, Role.TEAM_LEAD, Role.DESK_MANAGER, Role.ADMIN})
#: Roles that see every ticket of every organisation.
GLOBAL_ROLES = frozenset({Role.DESK_MANAGER, Role.ADMIN})


class Line(models.IntegerChoices):
    """Support lines: L1 talks to the requester, L2/L3 specialise, L4 is a vendor."""

    L1 = 1, _("Line 1")
    L2 = 2, _("Line 2")
    L3 = 3, _("Line 3")
    L4 = 4, _("Line 4 (vendor)")


class Organisation(models.Model):
    """A client company. An in-house IT department has exactly one."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    short_name = models.CharField(_("short name"), max_length=50, blank=True)
    email_domain = models.CharField(
        _("email domain"), max_length=200, blank=True,
        help_text=_("Mail from this domain is attributed to the organisation."),
    )
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class Department(models.Model):
    """A department inside an organisation (accounting, sales, IT...)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="departments",
        verbose_name=_("organisation"),
    )
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        ordering = ["organisation__name", "name"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="department_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} / {self.name}"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> User:
        """Sign-in by email ignores case: people type ``Ivan.Petrov@…`` as often as not."""
        return self.get(email__iexact=(username or "").strip())

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("role", Role.ADMIN)
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person: logs in by email; has one role, an organisation and personal preferences."""

    email = models.EmailField(_("email"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200)
    phone = models.CharField(_("phone"), max_length=50, blank=True, db_index=True)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.REQUESTER)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="users",
        verbose_name=_("organisation"),
    )
    department = models.ForeignKey(
        Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="users",
        verbose_name=_("department"),
    )
    language = models.CharField(
        _("language"), max_length=10, blank=True, choices=[("ru", "Русский"), ("en", "English")],
    )
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    email_notifications = models.BooleanField(
        _("email notifications"), default=True,
        help_text=_("Send an email when one of my tickets changes."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(
        _("admin site access"), default=False,
        help_text=_("Whether the user may log into the administration site."),
    )
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["full_name"]
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @property
    def is_agent_side(self) -> bool:
        """Staff of the service desk (agents, leads, managers, administrators)."""
        return self.role in STAFF_ROLES

    @property
    def sees_everything(self) -> bool:
        return self.role in GLOBAL_ROLES or self.is_superuser


class Team(models.Model):
    """A support group on one line with a speciality (L2 network, L2 1C, L3 servers...)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    line = models.PositiveSmallIntegerField(_("line"), choices=Line.choices, default=Line.L1)
    speciality = models.CharField(_("speciality"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    members: models.ManyToManyField[User, TeamMembership] = models.ManyToManyField(
        User, through="TeamMembership", related_name="teams", verbose_name=_("members"),
    )

    class Meta:
        ordering = ["line", "name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return f"L{self.line} · {self.name}"


class TeamMembership(models.Model):
    """An agent's place in a team; a lead may assign within the team."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    is_lead = models.BooleanField(_("team lead"), default=False)

    class Meta:
        verbose_name = _("team membership")
        verbose_name_plural = _("team memberships")
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="team_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"
