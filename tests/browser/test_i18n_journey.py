"""The operator's first minutes in Chinese: the browser asks for zh-CN (Accept-Language), and every
page on the way is in Chinese with nothing left from the English catalogue, its chat errors and
its dates included."""

import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from .conftest import log_in, screenshot
from .language import assert_chinese_page

# Django's zh_Hans dates, to the second as the console writes them (tcadh_console/formats).
CHINESE_DATETIME = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}:\d{2}$")
# The session module's own send: the page's controls never send a frame the console refuses, a
# stale or altered page may.
SEND_FROM_THE_PAGE = """async (message) => {
  const module = await import(document.querySelector("script[src*='/js/session.js']").src);
  module.send(message);
}"""


@pytest.fixture
def zh_page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


def test_create_watch_chat_close_in_chinese(console, zh_page):
    page = zh_page
    page.goto(f"{console.url}/login/")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    assert_chinese_page(page)
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill(console.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{console.url}/")
    expect(page.get_by_role("heading", name="活动会话")).to_be_visible()
    assert_chinese_page(page)

    page.get_by_role("link", name="新建会话").first.click()
    expect(page.get_by_role("heading", name="新建会话")).to_be_visible()
    assert_chinese_page(page)
    page.get_by_label("项目").select_option(index=1)
    page.get_by_label("协议").select_option("rtmp")
    page.get_by_role("button", name="创建会话").click()

    status = page.get_by_role("status")
    expect(status).to_have_text("准备中")
    assert_chinese_page(page)
    expect(status).to_have_text("已开始", timeout=30_000)
    history = page.get_by_role("list", name="会话历史")
    expect(history).to_contain_text("已就绪")
    expect(page.locator("#chat-connection")).to_have_text("已连接", timeout=15_000)

    page.get_by_role("textbox", name="消息").fill("你好，请介绍一下你自己。")
    page.get_by_role("textbox", name="消息").press("Enter")
    transcript = page.get_by_role("log", name="对话记录")
    expect(transcript).to_contain_text("你好，请介绍一下你自己。")
    expect(transcript.locator(".badge")).to_have_text(re.compile("排队中|播报中|已完成"))
    assert_chinese_page(page)
    screenshot(page, "session-started-zh")

    page.evaluate(SEND_FROM_THE_PAGE, {"type": "stream", "action": "end"})
    refused = "没有正在发送的流式文本；请在 end 之前先发送 start"
    expect(page.locator("#chat-error")).to_have_text(refused)
    expect(transcript.locator("li.problem")).to_contain_text(refused)
    assert_chinese_page(page)

    session_url = page.url
    page.get_by_role("button", name="关闭会话").click()
    expect(page.get_by_role("status")).to_have_text("已关闭", timeout=15_000)
    expect(history).to_contain_text("已关闭：由操作员关闭")
    assert_chinese_page(page)

    page.get_by_role("link", name="仪表盘").click()
    row = page.locator("#recent-sessions tr", has=page.locator(f"a[href='{re.sub(r'^https?://[^/]+', '', session_url)}']"))
    expect(row.get_by_text("已关闭")).to_be_visible()
    assert_chinese_page(page)
    screenshot(page, "dashboard-zh")

    page.goto(f"{console.url}/audit/log/")
    expect(page.locator("#audit-log tbody time").first).to_have_text(CHINESE_DATETIME)
    assert_chinese_page(page)


def test_an_english_browser_that_chose_chinese_gets_chinese_dates(console, browser):
    """Dates written by the page's script follow the page's language, not the browser's locale."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
    page = context.new_page()
    log_in(page, console)
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("heading", name="活动会话")).to_be_visible()
    page.goto(f"{console.url}/audit/accounts/")
    history = page.locator("#audit-groups td a").nth(1).get_attribute("href")  # Live now, then History
    # A chart over five days labels its axis with days, which Chinese and English write apart.
    since = (datetime.now() - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    page.goto(f"{console.url}{history}?since={since}")
    axis = page.locator("#concurrency-chart svg text")
    expect(axis.last).to_have_text(re.compile(r"^\d{1,2}月\d{1,2}日$"))
    expect(page.locator("#chart-summary")).to_contain_text("年")
    assert_chinese_page(page)
    context.close()
