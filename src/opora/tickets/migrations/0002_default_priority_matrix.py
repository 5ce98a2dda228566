"""The default impact × urgency → priority matrix (editable in the admin site)."""

from django.db import migrations

# (impact, urgency) -> priority; 1 is high impact/urgency and critical priority.
MATRIX = {
    (1, 1): 1, (1, 2): 2, (1, 3): 3,
    (2, 1): 2, (2, 2): 3, (2, 3): 4,
    (3, 1): 3, (3, 2): 4, (3, 3): 5,
}


def create(apps, schema_editor):
    Cell = apps.get_model("tickets", "PriorityMatrixCell")
    for (impact, urgency), priority in MATRIX.items():
        Cell.objects.get_or_create(impact=impact, urgency=urgency, defaults={"priority": priority})


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
