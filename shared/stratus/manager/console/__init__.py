"""The operator console served by the manager (pages.py)."""
