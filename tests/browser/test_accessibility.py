"""axe-core on every console page, in English and in Chinese, and the session page by keyboard alone."""

import re

import pytest
from playwright.sync_api import expect

from .axe import assert_accessible, serve_axe
from .conftest import log_in

# The accessible names the audit's journey uses, in each language it runs in.
NAMES = {
    "en-US": {"username": "Username", "password": "Password", "log in": "Log in", "project": "Project",
              "protocol": "Protocol", "create": "Create session", "started": "started", "message": "Message",
              "script name": "Script name", "paste": "Or paste the text", "import": "Import",
              "kiosk name": "Kiosk name", "slug": "Address (slug)", "save kiosk": "Save kiosk",
              "close": "Close session", "closed": "closed", "transcript": "Transcript"},
    "zh-CN": {"username": "用户名", "password": "密码", "log in": "登录", "project": "项目", "protocol": "协议",
              "create": "创建会话", "started": "已开始", "message": "消息", "script name": "脚本名称",
              "paste": "或粘贴文本", "import": "导入", "kiosk name": "展台名称", "slug": "地址（slug）",
              "save kiosk": "保存展台", "close": "关闭会话", "closed": "已关闭", "transcript": "对话记录"},
}


@pytest.fixture(params=list(NAMES))
def audited(request, browser, console):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale=request.param)
    serve_axe(context, console.url)
    yield context.new_page(), NAMES[request.param], request.param[:2]
    context.close()


def test_every_page_has_no_serious_axe_violation(console, audited):
    page, names, tag = audited
    check = lambda p=page: assert_accessible(p, console.url)  # noqa: E731

    page.goto(f"{console.url}/login/")
    check()
    page.get_by_label(names["username"]).fill("admin")
    page.get_by_label(names["password"]).fill(console.password)
    page.get_by_role("button", name=names["log in"]).click()
    page.wait_for_url(f"{console.url}/")
    check()

    page.goto(f"{console.url}/sessions/new/")
    check()
    page.get_by_label(names["project"]).select_option(index=1)
    page.get_by_label(names["protocol"]).select_option("rtmp")
    page.get_by_role("button", name=names["create"]).click()
    expect(page.get_by_role("status")).to_have_text(names["started"], timeout=30_000)
    page.get_by_role("textbox", name=names["message"]).fill("Hello")
    page.get_by_role("textbox", name=names["message"]).press("Enter")
    expect(page.get_by_role("log", name=names["transcript"])).to_contain_text("Hello")
    session_url = page.url
    session_pk = re.search(r"/sessions/(\d+)/", session_url).group(1)
    check()

    page.goto(f"{console.url}/present/scripts/import/")
    check()
    page.get_by_label(names["script name"]).fill(f"Welcome {tag}")
    page.get_by_label(names["paste"]).fill("> Smile.\nWelcome!\n\n[pause 1]\n\nThank you.\n")
    page.get_by_role("button", name=names["import"]).click()
    page.wait_for_url(re.compile(r"/present/scripts/\d+/$"))
    script_pk = re.search(r"/scripts/(\d+)/", page.url).group(1)
    check()
    for path in ("/present/", "/present/scripts/new/", f"/present/sessions/{session_pk}/presenter/",
                 f"/present/sessions/{session_pk}/presenter/?script={script_pk}",
                 f"/present/sessions/{session_pk}/audience/", "/present/kiosks/", "/present/kiosks/new/"):
        page.goto(f"{console.url}{path}")
        check()

    page.get_by_label(names["kiosk name"]).fill(f"Booth {tag}")
    page.get_by_label(names["slug"]).fill(f"booth-{tag}")
    page.get_by_label(names["project"]).select_option(index=1)
    page.get_by_role("button", name=names["save kiosk"]).click()
    page.wait_for_url(f"{console.url}/present/kiosks/")
    page.goto(f"{console.url}/present/kiosks/booth-{tag}/edit/")
    check()
    kiosk = page.context.new_page()
    kiosk.goto(f"{console.url}/present/kiosk/booth-{tag}/")
    expect(kiosk.locator("#kiosk")).to_have_attribute("data-status", "started", timeout=30_000)
    check(kiosk)
    kiosk.close(run_before_unload=True)

    for path in ("/usage/", "/audit/", "/audit/accounts/", "/audit/projects/", "/audit/assets/", "/audit/log/"):
        page.goto(f"{console.url}{path}")
        check()
    page.goto(f"{console.url}/audit/accounts/")
    live_and_history = page.locator("#audit-groups td a").evaluate_all("links => links.map((a) => a.getAttribute('href'))")
    for path in live_and_history[:2]:
        page.goto(f"{console.url}{path}")
        check()

    page.goto(session_url)
    page.get_by_role("button", name=names["close"]).click()
    expect(page.get_by_role("status")).to_have_text(names["closed"], timeout=15_000)
    check()


def tab_to(page, target, limit: int = 80) -> None:
    """Press Tab until `target` has the focus, as a keyboard user moves through the page."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("(el) => el === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


LONG_ANSWER = " ".join(f"This is sentence {n} of a long answer that keeps the avatar talking." for n in range(1, 30))


def test_the_session_page_works_by_keyboard_alone(console, page):
    page.goto(f"{console.url}/login/")
    # The username field takes the focus on arrival; keys typed before it has it would be lost.
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    page.keyboard.type(console.password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{console.url}/")

    tab_to(page, page.get_by_role("link", name="New session").first)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{console.url}/sessions/new/")
    auto_start = page.get_by_role("checkbox", name="Start automatically when ready")
    tab_to(page, auto_start)
    page.keyboard.press("Space")
    expect(auto_start).not_to_be_checked()
    tab_to(page, page.get_by_role("button", name="Create session"))
    page.keyboard.press("Enter")

    status = page.get_by_role("status")
    expect(status).to_have_text("ready", timeout=30_000)
    start = page.get_by_role("button", name="Start session")
    expect(start).to_be_enabled()
    tab_to(page, start)
    page.keyboard.press("Enter")
    expect(status).to_have_text("started", timeout=15_000)

    message = page.get_by_role("textbox", name="Message")
    expect(page.locator("#chat-connection")).to_have_text("connected", timeout=15_000)
    expect(message).to_be_enabled()
    tab_to(page, message)
    page.keyboard.insert_text(LONG_ANSWER)
    page.keyboard.press("Enter")
    badge = page.get_by_role("log", name="Transcript").locator("li", has_text="sentence 1 of").locator(".badge")
    expect(badge).to_have_text("speaking", timeout=15_000)

    tab_to(page, page.get_by_role("button", name="Interrupt"))
    page.keyboard.press("Space")
    expect(badge).to_have_text("interrupted", timeout=15_000)

    tab_to(page, page.get_by_role("button", name="Close session"))
    page.keyboard.press("Enter")
    expect(status).to_have_text("closed", timeout=15_000)
