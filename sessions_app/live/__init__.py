"""The live chat: a session page's chat box relayed to the cloud's command channel, across tabs
and web processes. Where a change goes (see docs/ARCHITECTURE.md for the flows):

    limits.py         sizes and states the server checks and the page is rendered with
    commands.py       a browser frame checked and parsed into a command (pure)
    words.py          refusals in the tab's language, kept in English for rows and every page
    driving.py        a tab's commands turned into frames on the relay, and their rows queued
    drives.py         each relay's drives in flight and what pages last heard of them
    downstream.py     the cloud's events told to pages, their rows queued; a stopped channel's end
    utterances.py     the utterance state rule, replay keys, and every row the chat writes (sync)
    page_messages.py  every message a page is told, built in one place
    relay.py          one command channel per session, shared by its tabs (multiplexing only)
    database.py       the reader threads and the recorder thread the chat's queries run on
    inbox.py          this process's inbox and the handler registry (no app imports)
    ownership.py      which process owns a session's channel; a tab's commands routed there
    drive_rights.py   who may drive, remembered per process and forgotten on any change

Imports run one way: consumers -> ownership -> driving -> downstream -> relay -> utterances,
database, page_messages; commands, limits and words import nothing of the app but each other;
inbox nothing at all.
"""
