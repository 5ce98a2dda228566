"""The search index, the search log, and each engine's own index structures.

PostgreSQL gets partial GIN indexes on the tsvector columns (one per kind and column that is
queried); SQLite gets the FTS5 table ``search_fts`` holding Snowball stems (rowid = entry id).
Neither exists on the other engine, so both are created by a ``RunPython`` that checks the
connection's vendor.
"""

import django.contrib.postgres.search
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

PG_INDEXES = [
    ("search_entry_article_gin", "vector", "article"),
    ("search_entry_ticket_gin", "vector", "ticket"),
    ("search_entry_ticket_staff_gin", "vector_staff", "ticket"),
]


def create_engine_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name, column, kind in PG_INDEXES:
            schema_editor.execute(
                f"CREATE INDEX {name} ON search_searchentry USING gin ({column}) "
                f"WHERE kind = '{kind}'"
            )
    elif vendor == "sqlite":
        # Stems are computed in Python (snowballstemmer) and stored space-separated; unicode61
        # must not fold diacritics: й is not и.
        schema_editor.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5("
            "title, body, notes, tokenize = 'unicode61 remove_diacritics 0')"
        )


def drop_engine_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name, _column, _kind in PG_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    elif vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS search_fts")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='SearchEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('article', 'Article'), ('ticket', 'Ticket')], max_length=10, verbose_name='kind')),
                ('object_id', models.BigIntegerField(verbose_name='object id')),
                ('language', models.CharField(blank=True, max_length=10, verbose_name='language')),
                ('title', models.TextField(verbose_name='title')),
                ('body', models.TextField(blank=True, verbose_name='text')),
                ('notes', models.TextField(blank=True, verbose_name='internal notes')),
                ('vector', django.contrib.postgres.search.SearchVectorField(editable=False, null=True)),
                ('vector_staff', django.contrib.postgres.search.SearchVectorField(editable=False, null=True)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='indexed')),
            ],
            options={
                'verbose_name': 'search index entry',
                'verbose_name_plural': 'search index entries',
                'constraints': [models.UniqueConstraint(fields=('kind', 'object_id'), name='search_entry_unique')],
            },
        ),
        migrations.CreateModel(
            name='SearchLog',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('query', models.CharField(max_length=300, verbose_name='query')),
                ('normalised', models.CharField(max_length=300, verbose_name='normalised query')),
                ('source', models.CharField(choices=[('agent', 'Workspace search'), ('portal', 'Portal suggestions'), ('kb', 'Knowledge base list')], max_length=10, verbose_name='source')),
                ('results', models.PositiveIntegerField(verbose_name='results')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='time')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='user')),
            ],
            options={
                'verbose_name': 'search log entry',
                'verbose_name_plural': 'search log',
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['results', 'created_at'], name='search_log_results_idx')],
            },
        ),
        migrations.RunPython(create_engine_index, drop_engine_index, elidable=False),
    ]
