"""Seeded random parameters against the views that parse ids, dates and JSON: never a 500."""

import json
import random

from django.urls import reverse

from presentations import services as presentation_services
from presentations.models import KioskConfig

from .helpers import create_session

SEED = 14
ROUNDS = 150
PIECES = ["0", "1", "7", "42", "²", "٣", "۳", "१", "０", "𝟙", "-", "+", " ", "\t", ".", "e", "x", "_", "T", ":",
          "\x00", "\ud800", "😀", "重", "%", "'", '"', "<", str(2**63 - 1), str(2**63), str(2**64), "9" * 40,
          "0001-01-01T00:00", "9999-12-31T23:59", "2026-02-30", "1970-01-01", "2026-01-31T09:30", "24:00"]


def value(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 4)))


def safe(text: str) -> str:
    # The test client encodes query strings and form posts as UTF-8: a lone surrogate cannot travel
    # there (a browser sends it as U+FFFD), only inside JSON.
    return text.encode("utf-8", "replace").decode("utf-8")


def json_body(rng: random.Random) -> bytes:
    shape = rng.randrange(6)
    if shape == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
    if shape == 1:
        depth = rng.randint(1, 5000)
        return (b"[" * depth) + (b"]" * depth)
    if shape == 2:
        return json.dumps(rng.choice([[], 3, None, "text", {"text": None}, {"text": ["a"]}])).encode()
    text = value(rng) + "<" * rng.randint(0, 3) + " " * rng.randint(0, 300)
    codes = rng.choice([None, [], [value(rng)], "x", [1]])
    return json.dumps({"text": text, "action_codes": codes}).encode()


def test_no_parameter_makes_a_view_fail(client, sim, account, operator, admin_user):
    rng = random.Random(SEED)
    session = create_session(operator, account)
    presentation_services.kiosk_save(user=operator, kiosk=KioskConfig(slug="fuzz", name="Fuzz",
                                                                      project=account.projects.first()))
    client.force_login(admin_user)
    presenter = reverse("presenter", args=[session.pk])
    history = reverse("audit_account_history", args=[account.pk])
    answers: dict[str, set[int]] = {}

    def record(name: str, response) -> None:
        answers.setdefault(name, set()).add(response.status_code)
        assert response.status_code < 500, (name, response.status_code)

    for _ in range(ROUNDS):
        record("presenter", client.get(presenter, {"script": safe(value(rng))}))
        record("history", client.get(history, {"since": safe(value(rng)), "until": safe(value(rng)),
                                               "after": safe(value(rng)), "status": safe(value(rng))}))
        record("log", client.get(reverse("audit_log"), {"since": safe(value(rng)), "account": safe(value(rng)),
                                                        "ok": safe(value(rng)), "after": safe(value(rng))}))
        record("export", client.get(reverse("audit_account_export", args=[account.pk]),
                                    {"until": safe(value(rng))}))
        for name in ("kiosk_heartbeat", "kiosk_close"):
            record(name, client.post(reverse(name, args=["fuzz"]),
                                     {"page": safe(value(rng)) or "p", "session": safe(value(rng))}))
        record("ssml_check", client.post(reverse("ssml_check"), json_body(rng), content_type="application/json"))
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 30)))
        record("session path", client.get(f"/sessions/{digits}/"))
    # Bad input was met with answers that say so, not only with the happy path.
    for name in ("presenter", "history", "log", "kiosk_heartbeat", "ssml_check"):
        assert 400 in answers[name], (name, answers[name])
    assert 404 in answers["session path"]
