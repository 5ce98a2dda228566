"""factory_boy factories shared by every app's tests.

Call ``XFactory.create(...)`` where the type matters: it is typed as returning the model
(``XFactory(...)`` works the same at run time but type-checks as the factory).

Tickets are made through ``actions.open_ticket`` so they carry the same timeline as real ones.
"""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth.hashers import make_password

from opora.accounts.models import Line, Organisation, Role, Team, TeamMembership, User
from opora.catalog.models import Category, Service
from opora.tickets import actions
from opora.tickets.choices import Channel, Level, TicketType
from opora.tickets.models import Ticket

PASSWORD = "correct horse battery staple"
_HASH = make_password(PASSWORD)


class OrganisationFactory(factory.django.DjangoModelFactory[Organisation]):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    email_domain = factory.Sequence(lambda n: f"org{n}.example")


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    full_name = factory.Sequence(lambda n: f"Person {n}")
    role = Role.REQUESTER
    organisation = factory.SubFactory(OrganisationFactory)
    password = _HASH


class RequesterFactory(UserFactory):
    role = Role.REQUESTER


class OrgManagerFactory(UserFactory):
    role = Role.ORG_MANAGER


class StaffFactory(UserFactory):
    """Service desk staff belong to the provider, not to a client organisation."""

    organisation: Any = None
    role = Role.AGENT


class AgentFactory(StaffFactory):
    role = Role.AGENT


class TeamLeadFactory(StaffFactory):
    role = Role.TEAM_LEAD


class ManagerFactory(StaffFactory):
    role = Role.DESK_MANAGER


class AdminFactory(StaffFactory):
    role = Role.ADMIN
    is_staff = True
    is_superuser = True


class TeamFactory(factory.django.DjangoModelFactory[Team]):
    class Meta:
        model = Team
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Team {n}")
    line = Line.L1

    @factory.post_generation
    def members(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        for user in extracted or []:
            TeamMembership.objects.create(team=self, user=user)  # type: ignore[misc]


class CategoryFactory(factory.django.DjangoModelFactory[Category]):
    class Meta:
        model = Category

    code = factory.Sequence(lambda n: f"category-{n}")
    name = factory.Sequence(lambda n: f"Категория {n}")
    name_en = factory.Sequence(lambda n: f"Category {n}")


class ServiceFactory(factory.django.DjangoModelFactory[Service]):
    class Meta:
        model = Service

    code = factory.Sequence(lambda n: f"service-{n}")
    name = factory.Sequence(lambda n: f"Сервис {n}")
    name_en = factory.Sequence(lambda n: f"Service {n}")


class TicketFactory(factory.Factory[Ticket]):
    """Opens a ticket through the action: ``TicketFactory(requester=..., team=...)``."""

    class Meta:
        model = Ticket

    requester = factory.SubFactory(RequesterFactory)
    title = factory.Sequence(lambda n: f"Printer {n} does not print")
    description = "Error 49.4C02 on the display."
    ticket_type = TicketType.INCIDENT
    channel = Channel.PORTAL
    impact = Level.MEDIUM
    urgency = Level.MEDIUM
    team = None
    category = None
    service = None

    @classmethod
    def _create(cls, model_class: type[Ticket], *args: Any, **kwargs: Any) -> Ticket:
        # Routing to a team is the desk's decision: such a ticket is registered by the system
        # unless the test names an actor.
        default_actor = None if kwargs.get("team") is not None else kwargs["requester"]
        actor = kwargs.pop("actor", default_actor)
        return actions.open_ticket(actor=actor, **kwargs)

    _build = _create
