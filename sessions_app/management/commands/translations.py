"""``manage.py translations``: refresh the catalogues in locale/ from the code, then compile them.

Run it after changing any text a person reads, translate what tests/console/test_translations.py
reports as missing, run it again, and commit the .po and the .mo files: the compiled .mo is what
lets a fresh checkout run without gettext installed.
"""
from __future__ import annotations

import contextlib

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils.translation import to_locale

DOMAINS = ("django", "djangojs")
# Not the console's own text: installed packages, vendored players, the simulator, tests and tools.
IGNORE = ["node_modules", ".venv", "var", "tests", "bench", "tcadh_sim", "static/vendor", "staticfiles"]


def catalogue_locales() -> list[str]:
    """Every language but the one the code is written in."""
    return [to_locale(code) for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def catalogues_refresh(*, compile_them: bool = True) -> None:
    """makemessages (and compilemessages) over the current directory, the way the project keeps them."""
    locales = catalogue_locales()
    for domain in DOMAINS:
        # No source locations: a moved line would otherwise rewrite the catalogue.
        call_command("makemessages", locale=locales, domain=domain, ignore_patterns=IGNORE, no_location=True,
                     verbosity=0)
    if compile_them:
        call_command("compilemessages", locale=locales, ignore_patterns=IGNORE, verbosity=0)


class Command(BaseCommand):
    help = "Refresh locale/ from the code's translatable strings and compile it."

    def add_arguments(self, parser):
        parser.add_argument("--no-compile", action="store_true", help="Only refresh the .po files.")

    def handle(self, *args, no_compile: bool = False, **options):
        with contextlib.chdir(settings.BASE_DIR):
            catalogues_refresh(compile_them=not no_compile)
