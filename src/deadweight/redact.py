"""Credentials never leave deadweight in what it prints.

Index URLs with a token in them are common (``--index-url https://user:TOKEN@nexus/simple`` in a requirements
file or a RUN line, ``?token=`` on a mirror) and they reach reports through evidence, warnings and errors. Rather
than trust every place that quotes a URL to remember, every report and every error line passes through
:func:`redact` on its way out (``cli/output.write_output`` and the CLI's error boundary), so no format can leak
one. The model keeps what the files say; only what is printed is masked.

Masked: the userinfo of any ``scheme://userinfo@host`` (user and password alike: a token is often the user
part), and the values of query parameters whose names say they are secrets (``token``, ``password``,
``signature``, ``X-Amz-Signature`` ...).
"""

from __future__ import annotations

import re

MASK = "***"

# ``:/+``, not only ``://``: a URL that went through a path normalisation (``https:/user:pw@host``) still leaks
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]{0,30}:/{1,3})(?P<userinfo>[^/\s@\"'<>\\]{1,2048})@")
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&;](?:access_token|auth|auth_token|token|password|passwd|pwd|secret|client_secret|api_key|apikey"
    r"|key|signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature)=)"
    r"(?P<value>[^&;#\s\"'<>\\]{1,4096})",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with URL credentials masked; text without any comes back unchanged (the same object)."""
    if ":/" not in text and "=" not in text:
        return text
    masked = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    return _SECRET_QUERY.sub(lambda m: f"{m['key']}{MASK}", masked)
