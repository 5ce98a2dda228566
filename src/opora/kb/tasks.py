"""Background jobs of the knowledge base. Thin: they call actions."""

from __future__ import annotations

from django_tasks import task

from . import actions


@task()
def revalidate_due() -> int:
    """Move articles whose revalidation date has come to "needs revalidation" and remind their
    owners; returns how many moved."""
    return len(actions.mark_due())
