"""The admin's columns and read-only fields of what the console stored in English (close reasons,
errors, event messages, audit details), shown in the page's language like on every other page.

Each value is marked `data-console-words`, and every admin page loads static/js/console-words.js
(templates/admin/base_site.html), which puts it in the page's language with the same words as the
console's own pages (static/js/labels.js). The stored value itself stays English, as the CSV
exports and the search box see it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.db import models
from django.utils.html import format_html


def console_words_display(model: type[models.Model], name: str,
                          applies: Callable[[models.Model], bool] | None = None) -> Callable:
    """A display function for the field `name` of `model`, named and sorted like the field; `applies`
    tells the rows whose value is not the console's words (a bot's answer), shown as they are."""
    field = model._meta.get_field(name)

    @admin.display(description=field.verbose_name, ordering=name)
    def shown(obj):
        value = getattr(obj, name)
        if not value or (applies is not None and not applies(obj)):
            return value
        return format_html("<span data-console-words>{}</span>", value)

    # The admin names a column's cells after its function: field-<name>, as for the field itself.
    shown.__name__ = name
    return shown


class ConsoleWordsAdmin(admin.ModelAdmin):
    """An admin whose `console_words` fields are shown through `console_words_display`, in the list
    and, read-only, on the detail page (they are the console's record, never edited by hand)."""

    console_words: tuple[str, ...] = ()

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        self._console_words = {name: console_words_display(model, name, self.console_words_apply)
                               for name in self.console_words}

    def console_words_apply(self, obj) -> bool:
        """Whether this row's values are the console's words (they are unless a subclass says)."""
        return True

    def _shown(self, names) -> list:
        seen, shown = set(), []
        for name in names:
            item = self._console_words.get(name, name) if isinstance(name, str) else name
            if item not in seen:
                seen.add(item)
                shown.append(item)
        return shown

    def get_list_display(self, request):
        return self._shown(super().get_list_display(request))

    def get_readonly_fields(self, request, obj=None):
        return self._shown([*super().get_readonly_fields(request, obj), *self._console_words.values()])

    def get_fields(self, request, obj=None):
        return self._shown(super().get_fields(request, obj))
