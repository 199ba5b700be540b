"""The SSML check and the tags the editor's helpers insert (PROTOCOL.md §12)."""

import pytest

from presentations import ssml

CODES = frozenset({"waving_hand", "emphasize"})


def messages(text: str, codes=CODES) -> list[str]:
    return [p.message for p in ssml.validate(text, action_codes=codes)]


@pytest.mark.parametrize("text", [
    "Plain text, nothing to check.",
    'Hello<break time="300ms"/> world<break time="1.5s"/>',
    '<break strength="x-strong"/><break/>',
    '<speak>我们<phoneme alphabet="py" ph="zhong4 yao4">重要</phoneme>的客户</speak>',
    'Say <word>digital human</word> together<insert-action type="waving_hand"/>.',
    "3 > 2 is fine in text",
])
def test_well_formed_cues_have_no_problems(text):
    assert messages(text) == []


@pytest.mark.parametrize("text, expected", [
    ('<break time="3"/>', 'needs a number with ms or s'),
    ('<break strength="loud"/>', "must be one of x-weak"),
    ('<break time="1s">', "stands alone"),
    ('<phoneme ph="zhong4">重</phoneme>', 'needs alphabet="py"'),
    ('<phoneme alphabet="py" ph="zhong">重</phoneme>', "needs a tone number"),
    ('<phoneme alphabet="py" ph="zhong4 yao4">重</phoneme>', "2 syllable(s) for 1 character(s)"),
    ('<phoneme alphabet="py" ph="zhong4"></phoneme>', "wraps no character"),
    ("<word></word>", "wraps no text"),
    ("<word/>", "is empty"),
    ('<insert-action/>', 'needs type="<action code>"'),
    ('<insert-action type="moonwalk"/>', 'action "moonwalk" is not one of'),
    ("<prosody rate='fast'>hi</prosody>", "<prosody> is not a supported tag"),
    ("<word>unclosed", "<word> is never closed"),
    ("text</word>", "</word> closes a tag that is not open"),
    ("<word><break/></word>", "<word> may hold only text"),
    ("hello <speak>world</speak>", "<speak> must wrap the whole cue"),
    ('<break tone="1"/>', "does not take the attribute tone"),
    ("a < b", "a '<' that is not part of a tag"),
    ("<word>a</word", "a '<' that is not part of a tag"),
])
def test_malformed_cues_are_explained(text, expected):
    found = messages(text)
    assert any(expected in message for message in found), found


def test_unknown_action_code_is_only_a_warning_and_needs_known_codes():
    problems = ssml.validate('<insert-action type="moonwalk"/>', action_codes=CODES)
    assert [p.severity for p in problems] == ["warning"]
    assert ssml.validate('<insert-action type="moonwalk"/>', action_codes=None) == []


def test_size_limit_counts_utf8_bytes_not_characters():
    fits = "重" * (ssml.TEXT_MAX_BYTES // 3)
    assert messages(fits) == []
    too_big = fits + "重"
    assert messages(too_big) == [f"{ssml.TEXT_MAX_BYTES + 2} bytes in UTF-8; the cloud speaks at most "
                                 f"{ssml.TEXT_MAX_BYTES} at once"]


def test_tags_the_helpers_insert_are_valid():
    text = "".join([
        "Hi", ssml.break_tag(time_ms=400), ssml.break_tag(strength="weak"), ssml.break_tag(),
        ssml.insert_action_tag("waving_hand"), "我们", ssml.phoneme_tag("重要", "zhong4 yao4"),
    ])
    assert messages(text) == []
    assert ssml.break_tag(time_ms=400) == '<break time="400ms"/>'
    assert ssml.insert_action_tag("waving_hand") == '<insert-action type="waving_hand"/>'
    assert ssml.phoneme_tag("重", "zhong4") == '<phoneme alphabet="py" ph="zhong4">重</phoneme>'


def test_helpers_refuse_what_would_not_validate():
    with pytest.raises(ValueError):
        ssml.break_tag(strength="loud")
    with pytest.raises(ValueError):
        ssml.insert_action_tag('wave"/><x')


def test_spoken_text_is_what_the_audience_reads():
    assert ssml.spoken_text('<speak>Hello<break time="1s"/>  there,\n<word>friend</word></speak>') == \
        "Hello there, friend"
    assert ssml.action_codes_of(" waving_hand, ,emphasize ") == ["waving_hand", "emphasize"]


class CountingText(str):
    """A string that counts how often the scanner reads from it."""

    reads = 0

    def __getitem__(self, key):
        CountingText.reads += 1
        return str.__getitem__(self, key)


@pytest.mark.parametrize("text", [
    "<" + " " * 18_000,                      # the input that took seconds with the old pattern
    "<" + " " * 18_000 + ">",
    "<a" + " " * 18_000 + "x",
    '<a x="' + "y" * 18_000,
    "<" * 18_000,
    "< /" * 6_000,
    "<break" + ' t="1"' * 3_000 + " /",
])
def test_finding_tags_reads_each_character_a_bounded_number_of_times(text):
    """One forward pass: the scanner reads each character a few times at most, whatever the text
    (the old pattern backtracked over a run of spaces once per space it had taken: n² steps)."""
    CountingText.reads = 0
    ssml.tags(CountingText(text))
    assert CountingText.reads <= 6 * len(text)


def test_a_tag_opened_before_a_long_run_of_spaces_is_a_stray_angle_bracket():
    text = "Hello <" + " " * 18_000
    assert "a '<' that is not part of a tag near “Hello <”" in messages(text)
    assert ssml.tags(text) == []
    assert ssml.spoken_text(text) == "Hello <"


def test_tags_are_read_with_their_parts():
    found = ssml.tags('a< break  time = "1s" / >b</ WORD >c<phoneme alphabet=\'py\' ph="zhong4">重</phoneme>')
    assert [(t.name, t.closing, t.self_closing, t.attrs) for t in found] == [
        ("break", False, True, {"time": "1s"}), ("word", True, False, {}),
        ("phoneme", False, False, {"alphabet": "py", "ph": "zhong4"}), ("phoneme", True, False, {}),
    ]
    # A quote holding an angle bracket, or a missing "=", is no tag.
    assert ssml.tags('<break time="1>s"/> <break time/>') == []
