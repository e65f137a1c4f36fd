"""Untrusted text (file names, checkpoint metadata, values from a link) made safe to print or show.

Such strings may hold terminal escape sequences (ESC [ 2 J clears a screen, ESC ] 0 ; ... sets a window title),
bidirectional overrides that reorder what is read, or simply be very long. `printable` escapes every control and
format character as Python would write it (\\x1b, \\u202e) and shortens the result; the command line prints only
that, and the app shows it as literal text (pages/views/chrome.py: never as markdown or HTML).
"""
from __future__ import annotations

import unicodedata

# longest untrusted string quoted in one message; a longer one keeps its start and says how long it was
MAX_QUOTED = 200


def _escape(ch: str) -> str:
    # Cc: C0/C1 controls (ESC, BEL, CR, DEL, ...); Cf: format characters (bidi overrides, zero-width joiners);
    # Zl/Zp: line and paragraph separators; Cs: lone surrogates. Tab and newline are escaped too: one line per message.
    if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
        o = ord(ch)
        return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"
    return ch


def printable(value: object, limit: int = MAX_QUOTED) -> str:
    """`str(value)` with every control and format character escaped, at most `limit` characters of it kept."""
    s = str(value)
    out = "".join(_escape(c) for c in s[:limit])
    return out + (f"… ({len(s):,} characters)" if len(s) > limit else "")
