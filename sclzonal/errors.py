"""Errors a user can fix (printed as one line, exit non-zero), and the secrets kept out of them."""


class UserError(Exception):
    """A problem with the input or the set-up that the user can fix; the message says what."""


def first_line(exc: BaseException) -> str:
    """Return the first line of an exception's message, or its type name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_SECRETS: set[str] = set()
"""Texts never to print: the database password and its fragments (see `hide`)."""


def hide(*secrets: str | None) -> None:
    """Keep these texts out of every message `redact` passes (from here on, in this process)."""
    _SECRETS.update(secret for secret in secrets if secret and len(secret) >= 3)


def redact(text: str) -> str:
    """Return text with every secret registered with `hide` replaced by ***."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
