"""Helpers of the tests and the bench scripts that are not the app (served: a live server, Chromium, waits)."""
