"""Untrusted text in the app: file names, checkpoint metadata, link values, and messages that quote them.

Every Streamlit text element renders markdown (`**b**`, links, `![img](url)` that the browser fetches, `$math$`,
`:red[...]`), so such text is shown through `literal`: control characters escaped (genlib.text.printable) and every
ASCII punctuation character backslash-escaped, which CommonMark renders as the character itself. Streamlit's markdown
also turns bare addresses in the rendered text into links (GFM autolinks: `http://…`, `www.…`, `a@b.c`), escapes or
not: an invisible word joiner (U+2060) inside `://`, `www.` and before `@` keeps them text.
"""
from __future__ import annotations

import re

import streamlit as st

from genlib.text import printable

_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)  # where a GFM autolink would start
_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # the ASCII punctuation characters, all of which CommonMark lets us escape


def literal(value: object) -> str:
    """`value` as markdown that shows exactly its (printable) text."""
    text = printable(value, limit=4000)  # a whole message: bounded by whoever wrote it
    return _PUNCT.sub(r"\\\1", _AUTOLINK.sub("\u2060", text))


def error(message: object, **kw) -> None:
    """st.error showing `message` as text (a library's error quoting a file name or metadata)."""
    st.error(literal(message), **kw)
