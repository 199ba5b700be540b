"""An operator at the console's own HTML forms, without a browser: requests, cookies and CSRF.

It fills a form the way a browser submits it (every field the page renders, with the page's
defaults, then the operator's choices) and reads the outcome off the answer: a redirect to the
session page, or the error the page shows. When a web process is down it tries the other one,
as a load balancer in front of them would.
"""

from __future__ import annotations

import re
import threading
from html.parser import HTMLParser

import requests
from urllib3.exceptions import NewConnectionError

REQUEST_TIMEOUT = 30
SESSION_PAGE = re.compile(r"/sessions/(\d+)/$")


class FormReader(HTMLParser):
    """The fields of the page's forms (what a browser would submit), each select's options, and
    what the page tells the operator (errors, and the messages shown after a redirect)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.options: dict[str, list[str]] = {}
        self.notices: list[str] = []
        self._select: str | None = None
        self._alert_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value or "" for key, value in attrs}
        if attr.get("role") == "alert" or "message" in attr.get("class", "").split():
            self._alert_depth = 1
            self.notices.append("")
        elif self._alert_depth:
            self._alert_depth += 1
        name = attr.get("name")
        if tag == "input" and name:
            if attr.get("type") == "checkbox":
                if "checked" in attr:
                    self.values[name] = attr.get("value") or "on"
            else:
                self.values[name] = attr.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.options[name] = []
        elif tag == "option" and self._select is not None:
            value = attr.get("value", "")
            self.options[self._select].append(value)
            if "selected" in attr or self._select not in self.values:
                self.values[self._select] = value

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        if self._alert_depth:
            self._alert_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._alert_depth:
            self.notices[-1] += data.strip()


def _refused(exc: requests.ConnectionError) -> bool:
    return isinstance(getattr(exc.args[0] if exc.args else None, "reason", None), NewConnectionError)


def read_form(html: str) -> FormReader:
    reader = FormReader()
    reader.feed(html)
    return reader


class ConsoleOperator:
    """One logged-in operator; safe to share between threads (one request at a time each)."""

    def __init__(self, urls: list[str], username: str, password: str) -> None:
        self.urls = urls
        self.username = username
        self.password = password
        self._lock = threading.Lock()
        self._turn = 0
        # requests.Session is not thread-safe: each thread keeps its own cookies and logs in once.
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "http"):
            http = requests.Session()
            self._log_in(http)  # kept only once logged in: a login cut off by a kill is done again
            self._local.http = http
        return self._local.http

    def _request(self, http: requests.Session, method: str, path: str, **kwargs) -> requests.Response:
        with self._lock:
            self._turn += 1
            order = [self.urls[(self._turn + i) % len(self.urls)] for i in range(len(self.urls))]
        error: Exception | None = None
        for base in order:
            try:
                return http.request(method, base + path, timeout=REQUEST_TIMEOUT,
                                    headers={"Referer": base + path}, **kwargs)
            except requests.ConnectionError as exc:
                # A form post cut off mid-way may have done its work: only a refused connection
                # (the process is down) is safe to send to the other one.
                if method != "GET" and not _refused(exc):
                    raise
                error = exc
        raise error

    def _log_in(self, http: requests.Session) -> None:
        page = read_form(self._request(http, "GET", "/login/").text)
        answer = self._request(http, "POST", "/login/", data={
            **page.values, "username": self.username, "password": self.password})
        if answer.url.rstrip("/").endswith("/login"):
            raise RuntimeError(f"logging in as {self.username} failed: {read_form(answer.text).notices}")

    def create_session(self, *, source: str, protocol: str, auto_start: bool, user_id: str) -> tuple[int | None, str]:
        """Submit the New session form. (row id, "") when created, (None, the page's error) when not."""
        http = self._session()
        shown = self._request(http, "GET", "/sessions/new/")
        page = read_form(shown.text)
        if source not in page.options:
            return None, f"no New session form (HTTP {shown.status_code})"
        data = dict(page.values)
        chosen = [value for value in page.options[source] if value]
        other = "asset" if source == "project" else "project"
        data.update({source: chosen[0], other: "", "protocol": protocol, "user_id": user_id})
        if auto_start:
            data["auto_start"] = "on"
        else:
            data.pop("auto_start", None)
        answer = self._request(http, "POST", "/sessions/new/", data=data)
        created = SESSION_PAGE.search(answer.url)
        if created:
            return int(created.group(1)), ""
        if answer.status_code != 200:
            return None, f"HTTP {answer.status_code}"
        return None, " ".join(read_form(answer.text).notices) or "no error shown"

    def close_session(self, pk: int) -> str:
        """Press Close on the session page; the message the page shows after the redirect."""
        http = self._session()
        page = read_form(self._request(http, "GET", f"/sessions/{pk}/").text)
        answer = self._request(http, "POST", f"/sessions/{pk}/close/",
                               data={"csrfmiddlewaretoken": page.values["csrfmiddlewaretoken"]})
        return " ".join(read_form(answer.text).notices) or f"HTTP {answer.status_code}"
