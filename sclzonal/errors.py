"""Errors a user can fix: the CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """A problem with the input or the set-up that the user can fix; the message says what."""
