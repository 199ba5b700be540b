"""The SSML dialect a cue may carry (PROTOCOL.md §12), checked before anyone presses Space.

The check is deliberately stricter than the cloud is known to be: a tag the cloud might accept
but reads differently is better caught in the editor than discovered in front of an audience.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

TEXT_MAX_BYTES = 4000
BREAK_STRENGTHS = ("x-weak", "weak", "medium", "strong", "x-strong")
TAGS = ("speak", "break", "phoneme", "word", "insert-action")
# Tags that stand alone (<break/>) versus tags that wrap text (<word>…</word>).
EMPTY_TAGS = {"break", "insert-action"}
ATTRIBUTES = {
    "speak": {"version", "xmlns", "xml:lang"},
    "break": {"time", "strength"},
    "phoneme": {"alphabet", "ph"},
    "word": set(),
    "insert-action": {"type"},
}

_BREAK_TIME = re.compile(r"^\d+(\.\d+)?(ms|s)$")
_PINYIN = re.compile(r"^[a-zü:v]+[1-5]$")
_ACTION_CODE = re.compile(r"^[\w.-]+$")
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class Problem:
    message: str
    # "error": the cloud will refuse or misread the cue; "warning": it will speak, maybe not as meant.
    severity: str = "error"

    def as_dict(self) -> dict[str, str]:
        return {"message": self.message, "severity": self.severity}


@dataclass(frozen=True)
class Tag:
    start: int
    end: int
    name: str  # lower case
    closing: bool
    self_closing: bool
    attrs: dict[str, str]


# -- finding tags: one forward pass --------------------------------------------------------------
#
# A tag is `<`, an optional `/`, a name, `name="value"` attributes, an optional `/` and `>`, with
# whitespace between the parts. No part of a tag may hold `<` or `>`, so an attempt at a `<` reads
# at most up to the next `<` or `>`; when it fails there, the scan goes on from that character.
# Every character is read at most twice, whatever the text: no pattern backtracks over a run of
# whitespace (which made "<" and 18 000 spaces take seconds).

def _is_name_char(char: str) -> bool:
    return char.isalnum() or char in "_:-"


def _skip_space(text: str, at: int, end: int) -> int:
    while at < end and text[at].isspace():
        at += 1
    return at


def _read_name(text: str, at: int, end: int) -> int:
    while at < end and _is_name_char(text[at]):
        at += 1
    return at


def _read_tag(text: str, start: int) -> tuple[Tag | None, int]:
    """The tag opening at text[start] ("<"), or None and where the attempt stopped."""
    end = len(text)
    at = _skip_space(text, start + 1, end)
    closing = at < end and text[at] == "/"
    if closing:
        at = _skip_space(text, at + 1, end)
    if at >= end or text[at] not in _NAME_START:
        return None, at
    name_end = _read_name(text, at + 1, end)
    name, at = text[at:name_end].lower(), name_end
    attrs: dict[str, str] = {}
    while at < end and text[at].isspace():
        at = _skip_space(text, at, end)
        if at >= end or not _is_name_char(text[at]):
            break
        attr_end = _read_name(text, at + 1, end)
        attr, at = text[at:attr_end], _skip_space(text, attr_end, end)
        if at >= end or text[at] != "=":
            return None, at
        at = _skip_space(text, at + 1, end)
        if at >= end or text[at] not in "\"'":
            return None, at
        quote, value_start = text[at], at + 1
        at = value_start
        while at < end and text[at] != quote:
            if text[at] in "<>":
                return None, at
            at += 1
        if at >= end:
            return None, at
        attrs[attr] = text[value_start:at]
        at += 1
    at = _skip_space(text, at, end)
    self_closing = at < end and text[at] == "/"
    if self_closing:
        at = _skip_space(text, at + 1, end)
    if at >= end or text[at] != ">":
        return None, at
    return Tag(start, at + 1, name, closing, self_closing, attrs), at + 1


def tags(text: str) -> list[Tag]:
    """Every tag in `text`, in reading order."""
    found: list[Tag] = []
    at, end = 0, len(text)
    while at < end:
        if text[at] != "<":
            at += 1
            continue
        tag, at = _read_tag(text, at)
        if tag is not None:
            found.append(tag)
    return found


def _outside_tags(text: str, found: list[Tag]) -> list[str]:
    """The pieces of text before, between and after the tags."""
    pieces, position = [], 0
    for tag in found:
        pieces.append(text[position:tag.start])
        position = tag.end
    pieces.append(text[position:])
    return pieces


def spoken_text(text: str) -> str:
    """What the audience hears and reads: the text without its tags."""
    return re.sub(r"\s+", " ", "".join(_outside_tags(text, tags(text)))).strip()


def text_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _check_tag(name: str, attrs: dict[str, str], *, action_codes: frozenset[str] | None) -> list[Problem]:
    problems = []
    unknown = sorted(set(attrs) - ATTRIBUTES[name])
    if unknown:
        problems.append(Problem(f"<{name}> does not take the attribute {', '.join(unknown)}"))
    if name == "break":
        if "time" in attrs and not _BREAK_TIME.match(attrs["time"]):
            problems.append(Problem(f'<break time="{attrs["time"]}"> needs a number with ms or s, like "500ms"'))
        if "strength" in attrs and attrs["strength"] not in BREAK_STRENGTHS:
            problems.append(Problem(f'<break strength="{attrs["strength"]}"> must be one of '
                                    f"{', '.join(BREAK_STRENGTHS)}"))
    elif name == "phoneme":
        if attrs.get("alphabet") != "py":
            problems.append(Problem('<phoneme> needs alphabet="py" (pinyin)'))
        if not attrs.get("ph", "").strip():
            problems.append(Problem('<phoneme> needs ph="…" with the pinyin, like ph="zhong4"'))
        else:
            bad = [s for s in attrs["ph"].split() if not _PINYIN.match(s)]
            if bad:
                problems.append(Problem(f"<phoneme> pinyin {' '.join(bad)} needs a tone number 1-5, like zhong4"))
    elif name == "insert-action":
        code = attrs.get("type", "").strip()
        if not code:
            problems.append(Problem('<insert-action> needs type="<action code>"'))
        elif not _ACTION_CODE.match(code):
            problems.append(Problem(f'<insert-action type="{code}"> is not an action code'))
        elif action_codes is not None and code not in action_codes:
            known = ", ".join(sorted(action_codes)) or "none listed"
            problems.append(Problem(f'action "{code}" is not one of this avatar\'s action codes ({known})',
                                    severity="warning"))
    return problems


def validate(text: str, *, action_codes: frozenset[str] | None = None) -> list[Problem]:
    """Everything wrong with a cue's text, in reading order. Empty when it can be spoken as is.

    `action_codes`: the avatar's gesture codes, when known; None skips that check.
    """
    problems: list[Problem] = []
    size = text_bytes(text)
    if size > TEXT_MAX_BYTES:
        problems.append(Problem(f"{size} bytes in UTF-8; the cloud speaks at most {TEXT_MAX_BYTES} at once"))
    found = tags(text)
    between = _outside_tags(text, found)
    stack: list[tuple[Tag, int]] = []  # an open tag and its index in `found`
    spoken_before = False
    for index, tag in enumerate(found):
        stray = between[index]
        if "<" in stray:
            problems.append(Problem(f"a '<' that is not part of a tag near “{_near(stray)}”"))
        spoken_before = spoken_before or bool(stray.strip())
        name = tag.name
        if name not in TAGS:
            problems.append(Problem(f"<{name}> is not a supported tag (use {', '.join(TAGS)})"))
            continue
        if tag.closing:
            if not stack or stack[-1][0].name != name:
                expected = f"</{stack[-1][0].name}>" if stack else "nothing"
                problems.append(Problem(f"</{name}> closes a tag that is not open (expected {expected})"))
                continue
            opening, opened_at = stack.pop()
            problems += _check_content(opening, text[opening.end:tag.start], holds_tags=index - opened_at > 1)
            continue
        problems += _check_tag(name, tag.attrs, action_codes=action_codes)
        if name in EMPTY_TAGS:
            if not tag.self_closing:
                problems.append(Problem(f"<{name}> stands alone: write <{name} …/>"))
            continue
        if tag.self_closing:
            problems.append(Problem(f"<{name}/> is empty: it must wrap text, <{name}>…</{name}>"))
            continue
        if name == "speak" and (stack or spoken_before):
            problems.append(Problem("<speak> must wrap the whole cue"))
        stack.append((tag, index))
    tail = between[-1]
    if "<" in tail:
        problems.append(Problem(f"a '<' that is not part of a tag near “{_near(tail)}”"))
    for tag, _ in reversed(stack):
        problems.append(Problem(f"<{tag.name}> is never closed"))
    return problems


def _check_content(opening: Tag, content: str, *, holds_tags: bool) -> list[Problem]:
    if opening.name == "phoneme":
        ph = opening.attrs.get("ph", "").split()
        chars = [c for c in content if not c.isspace()]
        if holds_tags:
            return [Problem("<phoneme> may hold only the characters it gives pinyin for")]
        if not chars:
            return [Problem("<phoneme> wraps no character")]
        if ph and len(ph) != len(chars):
            return [Problem(f"<phoneme> gives {len(ph)} syllable(s) for {len(chars)} character(s) "
                            f"“{content.strip()}”: one syllable per character")]
    elif opening.name == "word":
        if holds_tags:
            return [Problem("<word> may hold only text")]
        if not content.strip():
            return [Problem("<word> wraps no text")]
    return []


def _near(fragment: str) -> str:
    fragment = fragment.strip()
    return fragment if len(fragment) <= 24 else f"…{fragment[-24:]}"


# -- tags the editor's helper buttons insert (the same shapes, built on the server for tests) --

def break_tag(*, time_ms: int | None = None, strength: str | None = None) -> str:
    if time_ms is not None:
        return f'<break time="{int(time_ms)}ms"/>'
    if strength is not None:
        if strength not in BREAK_STRENGTHS:
            raise ValueError(f"unknown break strength {strength!r}")
        return f'<break strength="{strength}"/>'
    return "<break/>"


def insert_action_tag(code: str) -> str:
    if not _ACTION_CODE.match(code):
        raise ValueError(f"{code!r} is not an action code")
    return f'<insert-action type="{code}"/>'


def phoneme_tag(characters: str, pinyin: str) -> str:
    return f'<phoneme alphabet="py" ph="{escape(pinyin.strip())}">{escape(characters)}</phoneme>'


def action_codes_of(raw: str) -> list[str]:
    """An asset's comma-separated action_codes field as a clean list."""
    return [code.strip() for code in raw.split(",") if code.strip()]
