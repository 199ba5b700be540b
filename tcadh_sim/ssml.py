"""Loose well-formedness of SSML in drive texts (PROTOCOL.md §12): SEND_TEXT and clause-mode
SEND_STREAMTEXT may carry Tencent's tags (<speak>, <break/>, <phoneme>, <word>,
<insert-action/>, ...); a tag that is cut off, unquoted or left open is refused with 100001.

Loose on purpose: which tag names and attributes the gateway knows is not checked (it is not
documented whether it refuses or ignores others), and a "<" that does not start a tag ("1 < 2",
"<3") is plain text. One left-to-right pass, so no input makes it slow.
"""

from __future__ import annotations

import string

_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "-_:.")


def _name_end(text: str, start: int) -> int:
    end = start
    while end < len(text) and text[end] in _NAME_CHARS:
        end += 1
    return end


def _space_end(text: str, start: int) -> int:
    end = start
    while end < len(text) and text[end].isspace():
        end += 1
    return end


class _Malformed(Exception):
    pass


def _tag_end(text: str, at: int, name: str, after_name: int) -> tuple[int, bool, bool]:
    """Reads the attributes of the tag opened at `at`; returns where it ends, whether it is
    self-closing and whether it has attributes."""
    j, attributes = after_name, False
    while True:
        spaced = _space_end(text, j)
        if text.startswith("/>", spaced):
            return spaced + 2, True, attributes
        if text.startswith(">", spaced):
            return spaced + 1, False, attributes
        attr_end = _name_end(text, spaced)
        if spaced == j or attr_end == spaced:
            raise _Malformed(f"<{name}> at position {at} is not closed with '>'")
        attr = text[spaced:attr_end]
        j = _space_end(text, attr_end)
        if not text.startswith("=", j):
            raise _Malformed(f"attribute {attr} of <{name}> has no value")
        j = _space_end(text, j + 1)
        if j >= len(text) or text[j] not in "\"'":
            raise _Malformed(f"the value of {attr} in <{name}> is not quoted")
        close = text.find(text[j], j + 1)
        if close < 0 or "<" in text[j + 1 : close]:
            raise _Malformed(f"the value of {attr} in <{name}> is not closed")
        j, attributes = close + 1, True


def ssml_problem(text: str) -> str | None:
    """Why `text` is not well-formed SSML, or None when it is (or holds no tags)."""
    open_tags: list[str] = []
    i = text.find("<")
    try:
        while i >= 0:
            closing = text.startswith("</", i)
            start = i + 2 if closing else i + 1
            after_name = _name_end(text, start)
            name = text[start:after_name]
            if not name or not name[0].isalpha():
                if closing:
                    raise _Malformed(f"'</' at position {i} starts no closing tag")
                i = text.find("<", i + 1)
                continue
            end, self_closing, attributes = _tag_end(text, i, name, after_name)
            if closing:
                if self_closing or attributes:
                    raise _Malformed(f"the closing tag </{name}> takes no attributes")
                if not open_tags:
                    raise _Malformed(f"</{name}> closes no open tag")
                if open_tags[-1] != name:
                    raise _Malformed(f"</{name}> found where </{open_tags[-1]}> was expected")
                open_tags.pop()
            elif not self_closing:
                if name == "speak" and (open_tags or text[:i].strip()):
                    raise _Malformed("<speak> may only be the outermost tag")
                open_tags.append(name)
            i = text.find("<", end)
    except _Malformed as problem:
        return str(problem)
    if open_tags:
        return f"<{open_tags[-1]}> is never closed"
    return None
