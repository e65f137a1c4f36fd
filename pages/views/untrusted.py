"""Untrusted text in the app: file names, checkpoint metadata, link values, and messages that quote them.

Every Streamlit text element renders markdown (`**b**`, links, `![img](url)` that the browser fetches, `$math$`,
`:red[...]`), so such text is shown through `literal`: control characters escaped (genlib.text.printable) and every
ASCII punctuation character backslash-escaped, which CommonMark renders as the character itself.
"""
from __future__ import annotations

import re

import streamlit as st

from genlib.text import printable

_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # the ASCII punctuation characters, all of which CommonMark lets us escape


def literal(value: object) -> str:
    """`value` as markdown that shows exactly its (printable) text."""
    return _PUNCT.sub(r"\\\1", printable(value, limit=4000))  # a whole message: bounded by whoever wrote it


def error(message: object, **kw) -> None:
    """st.error showing `message` as text (a library's error quoting a file name or metadata)."""
    st.error(literal(message), **kw)
