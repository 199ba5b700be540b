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

_TAG = re.compile(r"<\s*(/?)\s*([A-Za-z][\w:-]*)((?:\s+[\w:-]+\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'))*)\s*(/?)\s*>")
_ATTR = re.compile(r"([\w:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_BREAK_TIME = re.compile(r"^\d+(\.\d+)?(ms|s)$")
_PINYIN = re.compile(r"^[a-zü:v]+[1-5]$")
_ACTION_CODE = re.compile(r"^[\w.-]+$")


@dataclass(frozen=True)
class Problem:
    message: str
    # "error": the cloud will refuse or misread the cue; "warning": it will speak, maybe not as meant.
    severity: str = "error"

    def as_dict(self) -> dict[str, str]:
        return {"message": self.message, "severity": self.severity}


def spoken_text(text: str) -> str:
    """What the audience hears and reads: the text without its tags."""
    return re.sub(r"\s+", " ", _TAG.sub("", text)).strip()


def text_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _attributes(raw: str) -> dict[str, str]:
    return {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in _ATTR.finditer(raw)}


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
    stack: list[tuple[str, int]] = []  # open tag name, where its content starts
    position = 0
    for match in _TAG.finditer(text):
        stray = text[position:match.start()]
        if "<" in stray:
            problems.append(Problem(f"a '<' that is not part of a tag near “{_near(stray)}”"))
        position = match.end()
        closing, name, raw_attrs, self_closing = match.group(1), match.group(2).lower(), match.group(3), match.group(4)
        if name not in TAGS:
            problems.append(Problem(f"<{name}> is not a supported tag (use {', '.join(TAGS)})"))
            continue
        if closing:
            if not stack or stack[-1][0] != name:
                expected = f"</{stack[-1][0]}>" if stack else "nothing"
                problems.append(Problem(f"</{name}> closes a tag that is not open (expected {expected})"))
                continue
            _, start = stack.pop()
            problems += _check_content(name, text[start:match.start()], text[:start])
            continue
        problems += _check_tag(name, _attributes(raw_attrs), action_codes=action_codes)
        if name in EMPTY_TAGS:
            if not self_closing:
                problems.append(Problem(f"<{name}> stands alone: write <{name} …/>"))
            continue
        if self_closing:
            problems.append(Problem(f"<{name}/> is empty: it must wrap text, <{name}>…</{name}>"))
            continue
        if name == "speak" and (stack or spoken_text(text[:match.start()])):
            problems.append(Problem("<speak> must wrap the whole cue"))
        stack.append((name, match.end()))
    tail = text[position:]
    if "<" in tail:
        problems.append(Problem(f"a '<' that is not part of a tag near “{_near(tail)}”"))
    for name, _ in reversed(stack):
        problems.append(Problem(f"<{name}> is never closed"))
    return problems


def _check_content(name: str, content: str, before: str) -> list[Problem]:
    if name == "phoneme":
        opening = list(_TAG.finditer(before))[-1]
        ph = _attributes(opening.group(3)).get("ph", "").split()
        chars = [c for c in content if not c.isspace()]
        if _TAG.search(content):
            return [Problem("<phoneme> may hold only the characters it gives pinyin for")]
        if not chars:
            return [Problem("<phoneme> wraps no character")]
        if ph and len(ph) != len(chars):
            return [Problem(f"<phoneme> gives {len(ph)} syllable(s) for {len(chars)} character(s) "
                            f"“{content.strip()}”: one syllable per character")]
    elif name == "word":
        if _TAG.search(content):
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
