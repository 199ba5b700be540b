"""The chat's words, kept in English and put in a viewer's language only where one viewer reads them.

A tab's own reply (a refused message) is in its viewer's language: the consumer activates that
language while it handles the tab's message, so `str()` of the words there translates them. What
is written to the database or told to every viewer of a session (an utterance's error, why the
command channel stopped) stays in English, `Words.english`, and each page puts it in its own
language when it shows it (static/js/labels.js, `consoleWords`): viewers of one session may read
different languages, and a row outlives the tab that caused it. Some words are both, such as a
drive refused because the channel is full, which is told to its tab and written on its utterance.

Messages are marked with `gettext_noop` where they are written, so makemessages finds them.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext, pgettext


class Words:
    """An English message with its %(name)s values; a value may itself be Words."""

    __slots__ = ("text", "context", "values")

    def __init__(self, text: str, *, context: str = "", **values: Any) -> None:
        self.text = text
        self.context = context
        self.values = values

    @property
    def english(self) -> str:
        return self._fill(self.text, {name: value.english if isinstance(value, Words) else value
                                      for name, value in self.values.items()})

    def __str__(self) -> str:
        """The words in the language active now."""
        text = pgettext(self.context, self.text) if self.context else gettext(self.text)
        return self._fill(text, {name: str(value) for name, value in self.values.items()})

    def __repr__(self) -> str:
        return f"Words({self.english!r})"

    def _fill(self, text: str, values: dict[str, Any]) -> str:
        # Only with values: words without any may hold a literal "%" (a message passed through).
        return text % values if self.values else text


class Refusal(Exception):
    """Something the chat will not do, said in `Words`: `str()` in the active language (the tab's
    reply), `english` for rows, broadcasts and logs."""

    def __init__(self, words: Words | str, **values: Any) -> None:
        self.words = words if isinstance(words, Words) else Words(words, **values)
        super().__init__(self.words.english)

    def __str__(self) -> str:
        return str(self.words)

    @property
    def english(self) -> str:
        return self.words.english
