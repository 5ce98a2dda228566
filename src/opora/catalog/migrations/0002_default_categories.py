"""The ten default categories of a service desk (PRODUCT.md §2), editable afterwards."""

from django.db import migrations

DEFAULTS = [
    ("hardware", "Отказ оборудования", "Hardware failure"),
    ("software", "Сбой программного обеспечения", "Software failure"),
    ("network", "Сеть", "Network"),
    ("security", "Информационная безопасность", "Security"),
    ("user-support", "Поддержка пользователей (пароли, обучение)", "User support (passwords, training)"),
    ("service-request", "Запрос на обслуживание", "Service request"),
    ("data-recovery", "Восстановление данных", "Data recovery"),
    ("performance", "Производительность", "Performance"),
    ("consulting", "Консультация", "Consulting"),
    ("other", "Прочее", "Other"),
]


def create(apps, schema_editor):
    Category = apps.get_model("catalog", "Category")
    for position, (code, name, name_en) in enumerate(DEFAULTS, start=1):
        Category.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "position": position * 10}
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
