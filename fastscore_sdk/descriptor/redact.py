"""Secret redaction for showing descriptors, and the checks the Library runs before saving one.

The rules for what is secret live in :mod:`fastscore_sdk.secrets`; this module applies them to whole
descriptors. Redaction always works on a copy: the descriptor a user wrote is never changed (the
original CLI starred secrets in place and then saved the stars back; reference §8 item 10).
"""

from __future__ import annotations

from typing import Any

from .. import secrets
from ..secrets import REDACTED

__all__ = ["REDACTED", "has_plaintext_secrets", "has_redacted_values", "redact"]


def redact(desc: Any) -> Any:
    """A deep copy of ``desc`` with every secret value replaced by ``"*****"``.

    Secret values are those of ``AccessKeyID``, ``SecretAccessKey``, ``Password``, ``Keytab`` and any
    field whose name ends in ``Secret``, ``Token``, ``Password`` (any case, snake_case too), the
    ``PWD=``/``Password=`` values of a ``ConnectionString``, and URL passwords. A ``secret://NAME``
    reference is not a secret and is shown as written.

    Examples
    --------
    >>> desc = {"Transport": {"Type": "ODBC",
    ...                       "ConnectionString": "Driver=MySQL;Server=db;PWD=x;"}}
    >>> redact(desc)["Transport"]["ConnectionString"]
    'Driver=MySQL;Server=db;PWD=*****;'
    >>> desc["Transport"]["ConnectionString"]
    'Driver=MySQL;Server=db;PWD=x;'
    """
    return secrets.redact(desc)


def has_plaintext_secrets(desc: Any) -> list[str]:
    """Field paths of secrets written in plain text rather than as ``secret://NAME``.

    A Library refuses to save a descriptor for which this is not empty, unless told to.

    Examples
    --------
    >>> has_plaintext_secrets({"Transport": {"Type": "S3", "Bucket": "b", "ObjectKey": "k",
    ...                                      "AccessKeyID": "secret://AccessKeyID",
    ...                                      "SecretAccessKey": "wJalrXUtnFEMI"}})
    ['Transport.SecretAccessKey']
    """
    return secrets.plaintext_secret_paths(desc)


def has_redacted_values(desc: Any) -> list[str]:
    """Field paths holding ``"*****"`` placeholders: a redacted copy that must not be saved back.

    Examples
    --------
    >>> has_redacted_values({"Transport": {"Type": "S3", "SecretAccessKey": "*****"}})
    ['Transport.SecretAccessKey']
    """
    found: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")
        elif isinstance(value, str) and (
            value == REDACTED or f"={REDACTED}" in value or f":{REDACTED}@" in value
        ):
            found.append(path)

    walk(desc, "")
    return found
