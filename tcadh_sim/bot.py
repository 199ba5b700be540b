"""The dialogue bot bound to some projects: a deterministic canned answer that quotes the question,
so tests can predict every Type 4 chunk, and the reasoning shown before it (Type 5)."""

from __future__ import annotations

from .speech import contains_cjk


def answer_chunks(question: str) -> list[str]:
    if contains_cjk(question):
        return [f"你问的是：「{question}」。", "这是模拟器里的对话机器人给出的固定回答。"]
    # Chunks carry their own spacing, as a streaming model's do: joined as they are, they read right.
    return [f'You asked: "{question}".', " This is the canned answer of the simulated dialogue bot."]


def thinking(question: str) -> str:
    """What the model "thinks" before it answers: the Type 5 event's text."""
    if contains_cjk(question):
        return f"用户问的是「{question}」，用固定回答作答。"
    return f'The user asked "{question}"; the canned answer will do.'
