"""Errors a user can fix: the CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """A problem with the input or the set-up that the user can fix; the message says what."""


def first_line(exc: BaseException) -> str:
    """Return the first line of an exception's message, or its type name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
