"""The built-in calendars and the preset default agreement (editable afterwards)."""

from django.conf import settings
from django.db import migrations

H = 3600
D = 8 * H  # a business day of the default calendar

#: (priority, first response, resolution, next response, on business hours?) for incidents.
INCIDENT = [
    (1, 15 * 60, 4 * H, 1 * H, False),  # critical: around the clock
    (2, 30 * 60, 8 * H, 4 * H, True),
    (3, 2 * H, 3 * D, 1 * D, True),
    (4, 8 * H, 5 * D, 2 * D, True),
    (5, 1 * D, 10 * D, 3 * D, True),
]
#: Service requests are planned work: their own, longer targets.
REQUEST = [
    (1, 1 * H, 1 * D, 2 * H, True),
    (2, 2 * H, 2 * D, 4 * H, True),
    (3, 4 * H, 5 * D, 1 * D, True),
    (4, 1 * D, 10 * D, 2 * D, True),
    (5, 2 * D, 15 * D, 3 * D, True),
]
THRESHOLDS = {
    50: ["notify_assignee"],
    75: ["notify_assignee", "notify_team_lead"],
    90: ["notify_team_lead", "notify_manager"],
    100: ["notify_assignee", "notify_team_lead", "notify_manager"],
}


def create(apps, schema_editor):
    Calendar = apps.get_model("sla", "Calendar")
    WorkingPeriod = apps.get_model("sla", "WorkingPeriod")
    Agreement = apps.get_model("sla", "Agreement")
    Target = apps.get_model("sla", "Target")
    Threshold = apps.get_model("sla", "Threshold")
    zone = settings.TIME_ZONE
    Calendar.objects.create(name="24/7", time_zone=zone, is_24x7=True,
                            description="Every hour of every day.")
    business = Calendar.objects.create(
        name="Business hours", time_zone=zone,
        description="Monday to Friday 09:00–18:00 with a lunch hour 13:00–14:00.",
    )
    WorkingPeriod.objects.bulk_create(
        WorkingPeriod(calendar=business, weekday=day, start=start * H, end=end * H)
        for day in range(5) for start, end in ((9, 13), (14, 18))
    )
    agreement = Agreement.objects.create(
        kind="sla", name="Standard", is_default=True, calendar=business, order=1000,
    )
    targets = []
    for ticket_type, rows in (("", INCIDENT), ("request", REQUEST)):
        for priority, first, resolution, following, business_hours in rows:
            for metric, seconds in (("first_response", first), ("resolution", resolution),
                                    ("next_response", following)):
                targets.append(Target(agreement=agreement, metric=metric, priority=priority,
                                      ticket_type=ticket_type, seconds=seconds,
                                      business_hours=business_hours))
    Target.objects.bulk_create(targets)
    Threshold.objects.bulk_create(
        Threshold(agreement=agreement, percent=p, actions=a) for p, a in THRESHOLDS.items()
    )


def remove(apps, schema_editor):
    apps.get_model("sla", "Agreement").objects.filter(name="Standard").delete()
    apps.get_model("sla", "Calendar").objects.filter(name__in=["24/7", "Business hours"]).delete()


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
