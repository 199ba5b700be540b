"""What a page says, checked against the English catalogue: a page in Chinese must show Chinese,
and none of the console's own English strings (each msgid the catalogue translates differently)."""

import re
from functools import cache

import polib

from tests.conftest import ROOT

CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]|\{\w+\}")

# Every string a person reads on the page: visible text nodes, the options of its selects, and the
# attributes that become accessible names or hints.
PAGE_STRINGS_JS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('script, style, template')) continue;
    if (parent.tagName !== 'OPTION' && !parent.checkVisibility()) continue;
    const text = node.textContent.trim();
    if (text) out.push(text);
  }
  for (const el of document.querySelectorAll('[aria-label], [placeholder], [title], [alt]')) {
    for (const name of ['aria-label', 'placeholder', 'title', 'alt']) {
      const value = (el.getAttribute(name) || '').trim();
      if (value) out.push(value);
    }
  }
  out.push(document.title);
  return out;
}"""


@cache
def english_catalogue() -> tuple[frozenset[str], tuple[re.Pattern, ...]]:
    """The English msgids the Chinese catalogues translate differently: exact ones and, for those
    with placeholders, a pattern any filled-in copy matches."""
    exact, patterns = set(), []
    for domain in ("django", "djangojs"):
        for entry in polib.pofile(str(ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / f"{domain}.po")):
            if entry.obsolete:
                continue
            for msgid, msgstr in ((entry.msgid, entry.msgstr or entry.msgstr_plural.get(0, "")),
                                  (entry.msgid_plural, entry.msgstr_plural.get(0, ""))):
                if not msgid or msgid == msgstr or "<" in msgid:
                    continue
                if PLACEHOLDER.search(msgid):
                    pieces = PLACEHOLDER.split(msgid)
                    # One word and a name ("Project %(name)s") is as likely a name from the data.
                    if len("".join(pieces).split()) >= 2:
                        patterns.append(re.compile(".+?".join(map(re.escape, pieces)), re.S))
                else:
                    exact.add(msgid)
    return frozenset(exact), tuple(patterns)


def untranslated(page) -> list[str]:
    exact, patterns = english_catalogue()
    found = []
    for text in page.evaluate(PAGE_STRINGS_JS):
        if text in exact or any(pattern.fullmatch(text) for pattern in patterns):
            found.append(text)
    return found


def assert_chinese_page(page) -> None:
    """The page speaks Chinese (its text and its lang) and shows nothing from the English catalogue."""
    # Once its scripts ran: they put what the console stored in English in the page's language.
    page.wait_for_load_state("domcontentloaded")
    assert page.locator("html").get_attribute("lang") == "zh-hans", page.url
    assert CJK.search(page.locator("body").inner_text()), f"no Chinese text on {page.url}"
    left = untranslated(page)
    assert left == [], f"English strings on {page.url}: {left}"
