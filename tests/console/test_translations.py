"""The catalogues in locale/ are complete and compiled: makemessages run over a copy of the code
finds nothing untranslated or fuzzy, placeholders survive translation, and each committed .mo holds
exactly what its .po says (git keeps no mtimes, so "older than its .po" is checked by content)."""

import contextlib
import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.test.utils import override_settings

from sessions_app.management.commands.translations import DOMAINS, IGNORE, catalogue_locales, catalogues_refresh

ROOT = Path(settings.BASE_DIR)
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]|\{\w+\}")


def _catalogue(locale: str, domain: str, root: Path = ROOT) -> Path:
    return root / "locale" / locale / "LC_MESSAGES" / f"{domain}.po"


def _problems(po: polib.POFile) -> list[str]:
    found = []
    for entry in po:
        if entry.obsolete:
            continue
        name = f"{entry.msgctxt + ' | ' if entry.msgctxt else ''}{entry.msgid!r}"
        if "fuzzy" in entry.flags:
            found.append(f"fuzzy: {name}")
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        if not all(translations):
            found.append(f"untranslated: {name}")
            continue
        wanted = sorted(set(PLACEHOLDER.findall(entry.msgid)))
        for text in translations:
            if sorted(set(PLACEHOLDER.findall(text))) != wanted:
                found.append(f"placeholders {wanted} changed in {text!r} for {name}")
    return found


def _entries(catalogue) -> dict:
    return {(e.msgctxt, e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
            for e in catalogue if not e.obsolete and "fuzzy" not in e.flags and e.msgid}


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    """locale/ refreshed by makemessages from a copy of the code, as `manage.py translations` does."""
    copy = tmp_path_factory.mktemp("source")
    skip = shutil.ignore_patterns(*[Path(p).name for p in IGNORE], "__pycache__", "*.mo")
    for entry in ROOT.iterdir():
        if entry.name in IGNORE or entry.name.startswith(".") or entry.is_symlink():
            continue
        if entry.is_dir():
            shutil.copytree(entry, copy / entry.name, ignore=skip)
        else:
            shutil.copy2(entry, copy / entry.name)
    with override_settings(LOCALE_PATHS=[copy / "locale"]), contextlib.chdir(copy):
        catalogues_refresh(compile_them=False)
    return copy


def test_there_is_a_catalogue_for_every_language():
    assert catalogue_locales() == ["zh_Hans"]
    for domain in DOMAINS:
        assert _catalogue("zh_Hans", domain).is_file()


@pytest.mark.parametrize("domain", DOMAINS)
def test_makemessages_leaves_nothing_untranslated_or_fuzzy(regenerated, domain):
    for locale in catalogue_locales():
        po = polib.pofile(str(_catalogue(locale, domain, regenerated)))
        assert len(po) > 50
        assert _problems(po) == [], "translate these, then run manage.py translations"


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_committed_catalogue_is_what_makemessages_makes(regenerated, domain):
    for locale in catalogue_locales():
        committed = _entries(polib.pofile(str(_catalogue(locale, domain))))
        fresh = _entries(polib.pofile(str(_catalogue(locale, domain, regenerated))))
        assert committed == fresh, "run manage.py translations and commit locale/"


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_compiled_catalogue_matches_its_po(domain):
    for locale in catalogue_locales():
        po_path = _catalogue(locale, domain)
        mo_path = po_path.with_suffix(".mo")
        assert mo_path.is_file(), f"{mo_path} is missing: run manage.py translations"
        assert _entries(polib.mofile(str(mo_path))) == _entries(polib.pofile(str(po_path))), \
            f"{mo_path} is older than its .po: run manage.py translations and commit it"


def test_the_packages_catalogue_is_complete_and_compiled():
    """locale_packages/: the Chinese of installed packages' admin pages, kept by hand."""
    for locale in catalogue_locales():
        po_path = ROOT / "locale_packages" / locale / "LC_MESSAGES" / "django.po"
        po = polib.pofile(str(po_path))
        assert len(po) > 20 and _problems(po) == []
        assert _entries(polib.mofile(str(po_path.with_suffix(".mo")))) == _entries(po), \
            f"{po_path.with_suffix('.mo')} is older than its .po: run manage.py translations and commit it"


def test_the_checks_catch_an_empty_a_fuzzy_and_a_broken_translation():
    po = polib.POFile()
    po.append(polib.POEntry(msgid="Close", msgstr=""))
    po.append(polib.POEntry(msgid="Sent.", msgstr="已发送。", flags=["fuzzy"]))
    po.append(polib.POEntry(msgid="Saved “%(name)s”.", msgstr="已保存。", flags=["python-format"]))
    po.append(polib.POEntry(msgid="Session started.", msgstr="会话已开始。"))
    assert [problem.split()[0] for problem in _problems(po)] == ["untranslated:", "fuzzy:", "placeholders"]
