import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('kb', '0001_initial'),
        ('search', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Deflection',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('query', models.CharField(blank=True, max_length=300, verbose_name='what they typed')),
                ('method', models.CharField(choices=[('confirmed', 'Confirmed by the requester'), ('left', 'Left after reading')], max_length=10, verbose_name='how it was counted')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='time')),
                ('article', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deflections', to='kb.article', verbose_name='article')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='requester')),
            ],
            options={
                'verbose_name': 'deflection',
                'verbose_name_plural': 'deflections',
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['created_at'], name='search_deflection_time_idx')],
            },
        ),
    ]
