"""The daily revalidation job, with frozen time."""

from __future__ import annotations

from datetime import date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import time_machine
from django.core.management import call_command

from opora.kb import actions
from opora.kb.choices import ArticleEventKind, ArticleStatus, ArticleType
from opora.kb.models import Article
from opora.kb.revalidation import add_months
from opora.mail.models import OutboundMessage

MSK = ZoneInfo("Europe/Moscow")


def test_add_months_clamps_to_the_month_end():
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 11, 15), 12) == date(2025, 11, 15)


def test_published_articles_become_due_after_their_period(world, settings):
    settings.OPORA_KB_REVALIDATION_MONTHS = {"default": 12, "script": 3}
    world.l1_agent.language = "en"
    world.l1_agent.save()
    with time_machine.travel(datetime(2025, 3, 10, 9, 0, tzinfo=MSK), tick=False):
        faq = actions.create_article(title="FAQ", type=ArticleType.FAQ, actor=world.l1_agent)
        script = actions.create_article(title="Script", type=ArticleType.SCRIPT,
                                        actor=world.l1_agent)
        actions.transition(faq, action="publish", actor=world.manager)
        actions.transition(script, action="publish", actor=world.manager)
    assert Article.objects.get(pk=faq.pk).revalidate_on == date(2026, 3, 10)
    assert Article.objects.get(pk=script.pk).revalidate_on == date(2025, 6, 10)

    with time_machine.travel(datetime(2025, 6, 9, 23, 0, tzinfo=MSK), tick=False):
        assert actions.mark_due() == []
    with time_machine.travel(datetime(2025, 6, 10, 6, 0, tzinfo=MSK), tick=False):
        out = StringIO()
        call_command("kb_revalidate", stdout=out)
        assert "1 article" in out.getvalue()
        call_command("kb_revalidate", stdout=StringIO())  # the second run finds nothing new
    script.refresh_from_db()
    assert script.status == ArticleStatus.NEEDS_REVALIDATION
    assert Article.objects.get(pk=faq.pk).status == ArticleStatus.PUBLISHED
    due = script.events.get(kind=ArticleEventKind.DUE)
    assert due.actor is None
    mail = OutboundMessage.objects.get()
    assert mail.to == world.l1_agent.email and "revalidate" in mail.subject.lower()
    assert f"/agent/kb/{script.pk}/" in mail.body_text

    # Still readable while due; the owner confirms it and the clock starts again.
    with time_machine.travel(datetime(2025, 6, 20, 12, 0, tzinfo=MSK), tick=False):
        actions.transition(script, action="revalidate", actor=world.l1_agent)
    script.refresh_from_db()
    assert script.status == ArticleStatus.PUBLISHED and script.revalidate_on == date(2025, 9, 20)


def test_the_command_can_enqueue_the_job(world):
    from django_tasks_db.models import DBTaskResult

    call_command("kb_revalidate", "--enqueue", stdout=StringIO())
    assert DBTaskResult.objects.filter(task_path="opora.kb.tasks.revalidate_due").count() == 1
