"""The Russian and English catalogues are complete and compiled."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.utils import translation

import opora

PACKAGE = Path(opora.__file__).resolve().parent
LOCALE = PACKAGE / "locale"


def catalogue(lang: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / lang / "LC_MESSAGES" / "django.po"))


def untranslated(entry: polib.POEntry) -> bool:
    if entry.msgid_plural:
        return not entry.msgstr_plural or not all(entry.msgstr_plural.values())
    return not entry.msgstr


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_every_message_is_translated(lang):
    po = catalogue(lang)
    missing = [e.msgid for e in po if not e.obsolete and (untranslated(e) or "fuzzy" in e.flags)]
    assert missing == [], f"{len(missing)} untranslated in {lang}: {missing[:10]}"


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_compiled_catalogue_matches_the_source(lang):
    """The .mo shipped beside the .po gives every translation (run `./scripts/i18n.sh`)."""
    po = catalogue(lang)
    stale = []
    with translation.override(lang):
        for entry in po:
            if entry.obsolete or entry.msgid_plural:
                continue
            got = (translation.pgettext(entry.msgctxt, entry.msgid) if entry.msgctxt
                   else translation.gettext(entry.msgid))
            if got != entry.msgstr:
                stale.append(entry.msgid)
    assert stale == [], f"{len(stale)} stale in {lang}.mo: {stale[:10]}"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="gettext (xgettext) not installed")
def test_the_catalogues_hold_every_string_of_the_code(tmp_path):
    """Extract the messages of the code now and compare with the committed catalogues.

    makemessages writes into the ``locale`` directory beside the sources, so it runs on a copy.
    """
    copy = tmp_path / "opora"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("static", "__pycache__"))
    env = {**os.environ, "OPORA_LOCALE_DIR": str(copy / "locale"),
           "OPORA_VAR_DIR": str(tmp_path / "var")}
    env.pop("OPORA_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "opora.cli", "makemessages", "-l", "ru", "-l", "en",
         "--no-location", "--ignore", "tests/*", "--ignore", "testing/*"],
        cwd=copy, env=env, check=True, capture_output=True,
    )
    before = {lang: catalogue(lang).percent_translated() for lang in ("ru", "en")}
    for lang in ("ru", "en"):
        fresh = polib.pofile(str(copy / "locale" / lang / "LC_MESSAGES" / "django.po"))
        new = [e.msgid for e in fresh if not e.obsolete and untranslated(e)]
        assert new == [], f"{len(new)} strings not in the {lang} catalogue: {new[:10]}"
    # The committed catalogues were not touched.
    assert before == {lang: catalogue(lang).percent_translated() for lang in ("ru", "en")}
    assert not (PACKAGE / "locale").samefile(copy / "locale")
