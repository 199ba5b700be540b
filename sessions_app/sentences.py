"""A service's lower-case clause shown as a sentence of the viewer's language."""

from django.utils.translation import gettext


def sentence(clause) -> str:
    text = str(clause)
    return gettext("%(clause)s.") % {"clause": text[:1].upper() + text[1:]}
