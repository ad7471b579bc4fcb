"""Secrets in stream descriptors: ``secret://NAME`` references, secret fields, redaction and scrubbing.

A descriptor names a secret instead of holding it: ``"SecretAccessKey": "secret://SecretAccessKey"``.
:func:`resolve` looks the name up, first as the file ``$FASTSCORE_SECRETS_DIR/NAME`` (default
``/run/secrets``, where Docker mounts its secrets; one trailing newline is stripped, as ``echo v | docker
secret create NAME -`` adds one), then as the environment variable ``NAME``. A reference may be a whole
string value or sit inside one (``"Driver=MySQL;Server=db;PWD=secret://DB_PASSWORD"``).

Values that are secret in plain text are those of the secret fields (:func:`is_secret_key`: ``AccessKeyID``,
``SecretAccessKey``, ``Password``, ``Keytab``, any key ending in ``Secret``, ``Token``, ``Password`` or
``ApiKey``), ``PWD=``/``Password=`` inside a connection string, and the password of a URL
(``https://user:pass@host``). :func:`redact` replaces them with ``*****`` in a copy; a ``secret://NAME``
reference is not itself secret and is shown as is.

Resolved values come back as :class:`Secret`, a ``str`` whose ``repr`` is ``'*****'``, so a resolved
transport configuration that ends up in a log line or a traceback does not show them.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import DescriptorError, Problem

__all__ = [
    "DEFAULT_SECRETS_DIR",
    "REDACTED",
    "SECRETS_DIR_ENV",
    "SECRET_PREFIX",
    "Secret",
    "check_references",
    "is_reference",
    "is_secret_key",
    "plaintext_secret_paths",
    "redact",
    "redact_connection_string",
    "redact_url",
    "references",
    "resolve",
    "resolve_tree",
    "scrub",
    "secret_values",
    "secrets_dir",
]

log = logging.getLogger(__name__)

SECRET_PREFIX = "secret://"
SECRETS_DIR_ENV = "FASTSCORE_SECRETS_DIR"
DEFAULT_SECRETS_DIR = "/run/secrets"
REDACTED = "*****"

# A name is one path component (no "/", cannot start with "."), so a reference never escapes the folder.
_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
_NAME_RE = re.compile(_NAME)
_EMBEDDED = re.compile(r"secret://(" + _NAME + r")")

_SECRET_KEYS = frozenset({"accesskeyid", "secretaccesskey", "password", "keytab", "pwd"})
_SECRET_SUFFIXES = ("secret", "token", "password", "apikey")
_CONNECTION_KEYS = ("connectionstring", "dsn")

_CONN_PASSWORD = re.compile(
    r"(?i)((?:^|;)\s*(?:PWD|Password)\s*=\s*)(\{(?:[^}]|\}\})*\}|[^;]*)",
)
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/@:\s]*:)([^@/\s]*)@")


class Secret(str):
    """A resolved secret: an ordinary ``str`` everywhere except ``repr``, which shows ``'*****'``.

    Examples
    --------
    >>> s = Secret("hunter2")
    >>> s == "hunter2", repr(s), repr({"password": s})
    (True, "'*****'", "{'password': '*****'}")
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(REDACTED)


def secrets_dir() -> Path:
    """The folder secret files are read from: ``$FASTSCORE_SECRETS_DIR``, else ``/run/secrets``.

    Examples
    --------
    >>> import os
    >>> os.environ["FASTSCORE_SECRETS_DIR"] = "/tmp/my-secrets"
    >>> str(secrets_dir())
    '/tmp/my-secrets'
    >>> del os.environ["FASTSCORE_SECRETS_DIR"]
    """
    return Path(os.environ.get(SECRETS_DIR_ENV) or DEFAULT_SECRETS_DIR)


def is_reference(value: Any) -> bool:
    """Whether ``value`` is a string holding a ``secret://`` reference.

    Examples
    --------
    >>> is_reference("secret://AccessKeyID"), is_reference("AKIA..."), is_reference(3)
    (True, False, False)
    """
    return isinstance(value, str) and SECRET_PREFIX in value


def references(value: Any) -> list[str]:
    """The secret names a string refers to, in order.

    Examples
    --------
    >>> references("Server=db;UID=secret://DB_USER;PWD=secret://DB_PWD")
    ['DB_USER', 'DB_PWD']
    """
    if not isinstance(value, str):
        return []
    return _EMBEDDED.findall(value)


def is_secret_key(key: Any) -> bool:
    """Whether a field of this name holds a secret (case, ``_`` and ``-`` are ignored).

    Examples
    --------
    >>> [is_secret_key(k) for k in ("SecretAccessKey", "access_key_id", "ClientSecret", "Bucket")]
    [True, True, True, False]
    """
    if not isinstance(key, str):
        return False
    folded = re.sub(r"[\s_\-]", "", key).lower()
    return folded in _SECRET_KEYS or folded.endswith(_SECRET_SUFFIXES)


def _is_connection_key(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    folded = re.sub(r"[\s_\-]", "", key).lower()
    return folded.endswith(_CONNECTION_KEYS)


def redact_connection_string(text: str) -> str:
    """Replace the ``PWD=``/``Password=`` values of an ODBC connection string with ``*****``.

    References (``PWD=secret://NAME``) and empty values are left as they are.

    Examples
    --------
    >>> redact_connection_string("Driver=MySQL;Server=db;User=root;PWD=x;")
    'Driver=MySQL;Server=db;User=root;PWD=*****;'
    >>> redact_connection_string("Driver=MySQL;Password={a;b}")
    'Driver=MySQL;Password=*****'
    """
    if not isinstance(text, str):
        return text

    def mask(match: re.Match[str]) -> str:
        value = match.group(2)
        if not value.strip() or is_reference(value):
            return match.group(0)
        return match.group(1) + REDACTED

    return _CONN_PASSWORD.sub(mask, text)


def redact_url(text: str) -> str:
    """Replace the password of any ``scheme://user:password@host`` URL in ``text`` with ``*****``.

    Examples
    --------
    >>> redact_url("https://me:pa55@example.com/data.jsons")
    'https://me:*****@example.com/data.jsons'
    """
    if not isinstance(text, str) or "@" not in text:
        return text

    def mask(match: re.Match[str]) -> str:
        value = match.group(2)
        if not value or is_reference(value):
            return match.group(0)
        return f"{match.group(1)}{REDACTED}@"

    return _URL_PASSWORD.sub(mask, text)


def _conn_passwords(text: str) -> list[str]:
    found = []
    for match in _CONN_PASSWORD.finditer(text):
        value = match.group(2)
        if value.strip() and not is_reference(value):
            found.append(value)
            if value.startswith("{") and value.endswith("}"):
                found.append(value[1:-1].replace("}}", "}"))
    return found


def _url_passwords(text: str) -> list[str]:
    if "@" not in text:
        return []
    return [m.group(2) for m in _URL_PASSWORD.finditer(text) if m.group(2) and not is_reference(m.group(2))]


def _hidden_value(value: Any, mask_references: bool) -> bool:
    if value is None or value == "" or value == REDACTED:
        return False
    return mask_references or not is_reference(value)


def redact(obj: Any, *, mask_references: bool = False) -> Any:
    """A deep copy of ``obj`` with every secret value replaced by ``*****``; ``obj`` is not changed.

    Parameters
    ----------
    obj
        A descriptor (or any JSON-like value).
    mask_references
        Also hide ``secret://NAME`` references held by secret fields (for a form that stands for the
        resolved values, such as the interpreted descriptor); by default they are shown as written.

    Examples
    --------
    >>> redact({"Transport": {"Type": "S3", "SecretAccessKey": "abc", "AccessKeyID": "secret://KEY"}})
    {'Transport': {'Type': 'S3', 'SecretAccessKey': '*****', 'AccessKeyID': 'secret://KEY'}}
    """
    return _redact(obj, None, mask_references)


def _redact(value: Any, key: Any, mask_references: bool) -> Any:
    if key is not None and is_secret_key(key):
        if isinstance(value, (dict, list)) and not value:
            return type(value)()
        return REDACTED if _hidden_value(value, mask_references) else value
    if isinstance(value, Mapping):
        return {k: _redact(v, k, mask_references) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(v, None, mask_references) for v in value]
    if isinstance(value, str):
        text = redact_connection_string(value) if _is_connection_key(key) else value
        return redact_url(text)
    return value


def _walk(obj: Any, prefix: str) -> Iterable[tuple[str, Any, Any]]:
    """(path, key, value) for every leaf of a JSON-like tree."""
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, (Mapping, list, tuple)) and not (is_secret_key(k) and v):
                yield from _walk(v, path)
            else:
                yield path, k, v
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{prefix}[{i}]")
    else:
        yield prefix, None, obj


def plaintext_secret_paths(obj: Any, prefix: str = "") -> list[str]:
    """Paths of the secret values held in plain text (not as ``secret://`` references).

    Examples
    --------
    >>> plaintext_secret_paths({"Transport": {"Type": "S3", "SecretAccessKey": "abc",
    ...                                       "AccessKeyID": "secret://KEY"}})
    ['Transport.SecretAccessKey']
    """
    found = []
    for path, key, value in _walk(obj, prefix):
        if key is not None and is_secret_key(key):
            if _hidden_value(value, False):
                found.append(path)
        elif isinstance(value, str) and (
            (_is_connection_key(key) and _conn_passwords(value)) or _url_passwords(value)
        ):
            found.append(path)
    return found


def secret_values(obj: Any) -> list[str]:
    """The plaintext secret values held in ``obj``, for :func:`scrub`.

    Examples
    --------
    >>> secret_values({"Transport": {"Password": "pw-123", "ConnectionString": "Server=db;PWD=x1y2"}})
    ['pw-123', 'x1y2']
    """
    found: list[str] = []
    for _path, key, value in _walk(obj, ""):
        if key is not None and is_secret_key(key):
            if _hidden_value(value, False):
                found.append(value if isinstance(value, str) else str(value))
        elif isinstance(value, Secret):
            found.append(str(value))
        elif isinstance(value, str):
            if _is_connection_key(key):
                found.extend(_conn_passwords(value))
            found.extend(_url_passwords(value))
    return found


def scrub(text: str, secrets: Iterable[Any]) -> str:
    """``text`` with every occurrence of each secret replaced by ``*****``.

    Secrets shorter than 3 characters are left alone: replacing them would garble the message while
    hiding next to nothing.

    Examples
    --------
    >>> scrub("login failed for key AKIAEXAMPLE", ["AKIAEXAMPLE"])
    'login failed for key *****'
    """
    values: set[str] = set()
    for secret in secrets:
        if secret is None:
            continue
        value = str(secret)
        if len(value) >= 3:
            values.add(value)
            shown = repr(value)[1:-1]
            if shown != value:
                values.add(shown)
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


def _problem(code: str, field: str, message: str, fix: str) -> Problem:
    return Problem(code, field, message, fix)


def _how_to_provide(name: str) -> str:
    return (
        f"create the file {secrets_dir() / name} holding the value (set ${SECRETS_DIR_ENV} to use "
        f"another folder), or set the environment variable {name}"
    )


def _lookup(name: str, field: str) -> tuple[str | None, Problem | None]:
    path = secrets_dir() / name
    try:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if text.endswith("\r\n"):
                text = text[:-2]
            elif text.endswith("\n"):
                text = text[:-1]
            log.debug("secret %r read from %s", name, path)
            return text, None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return None, _problem(
            "FS-S003",
            field,
            f"secret {name!r}: the file {path} cannot be read ({reason})",
            "make it a readable UTF-8 text file",
        )
    if name in os.environ:
        log.debug("secret %r read from the environment", name)
        return os.environ[name], None
    return None, _problem(
        "FS-S001",
        field,
        f"secret {name!r} not found: no file {path} and no environment variable {name}",
        _how_to_provide(name),
    )


def _resolve_str(value: str, field: str) -> tuple[str, list[Problem], list[str]]:
    """(resolved text, problems, the secret values used)."""
    if value.startswith(SECRET_PREFIX):
        name = value[len(SECRET_PREFIX) :]
        if not _NAME_RE.fullmatch(name):
            return (
                value,
                [
                    _problem(
                        "FS-S002",
                        field,
                        f"invalid secret name {name!r} in a secret:// reference",
                        "a name is letters, digits, '_', '.' and '-', e.g. secret://AccessKeyID",
                    )
                ],
                [],
            )
        found, problem = _lookup(name, field)
        if problem is not None:
            return value, [problem], []
        return Secret(found), [], [found]
    problems: list[Problem] = []
    used: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        found, problem = _lookup(match.group(1), field)
        if problem is not None:
            problems.append(problem)
            return match.group(0)
        used.append(found)
        return found

    text = _EMBEDDED.sub(substitute, value)
    return (Secret(text) if used and not problems else text), problems, used


def resolve(value: str, *, field: str = "") -> str:
    """Resolve the ``secret://NAME`` references in ``value``; other strings come back unchanged.

    Parameters
    ----------
    value
        ``"secret://NAME"``, or a string with references inside it.
    field
        Where the value came from (``Transport.SecretAccessKey``), for the error message.

    Returns
    -------
    str
        The value with each reference replaced by the secret; a :class:`Secret` when one was.

    Raises
    ------
    DescriptorError
        ``FS-S001`` when a secret is in neither the secrets folder nor the environment (the message
        says how to provide it and never shows a value), ``FS-S002`` for an invalid name, ``FS-S003``
        for an unreadable file.

    Examples
    --------
    >>> import os
    >>> os.environ["DEMO_TOKEN"] = "t0k3n"
    >>> resolve("secret://DEMO_TOKEN") == "t0k3n"
    True
    >>> resolve("plain") == "plain"
    True
    >>> del os.environ["DEMO_TOKEN"]
    """
    if not is_reference(value):
        return value
    text, problems, _used = _resolve_str(value, field)
    if problems:
        raise DescriptorError(problems=problems)
    return text


def check_references(obj: Any, prefix: str = "") -> list[Problem]:
    """One problem for each ``secret://`` reference in ``obj`` that cannot be resolved (nothing is raised).

    Examples
    --------
    >>> [p.code for p in check_references({"Password": "secret://SURELY_NOT_SET_ANYWHERE"}, "Transport")]
    ['FS-S001']
    """
    problems: list[Problem] = []
    for path, _key, value in _walk(obj, prefix):
        if is_reference(value):
            problems.extend(_resolve_str(value, path)[1])
    return problems


def resolve_tree(obj: Any, *, prefix: str = "", found: set[str] | None = None) -> Any:
    """A copy of a nested dict/list with every ``secret://`` reference in its strings resolved.

    Parameters
    ----------
    obj
        The tree, e.g. a transport configuration.
    prefix
        Path of ``obj`` in its descriptor (``"Transport"``), for error messages.
    found
        If given, each resolved value is added to it, so a caller can :func:`scrub` messages later.

    Raises
    ------
    DescriptorError
        One error listing every reference that cannot be resolved (see :func:`resolve`).

    Examples
    --------
    >>> import os
    >>> os.environ["DEMO_PWD"] = "pw"
    >>> resolve_tree({"Password": "secret://DEMO_PWD", "Port": 1}) == {"Password": "pw", "Port": 1}
    True
    >>> del os.environ["DEMO_PWD"]
    """
    problems: list[Problem] = []

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, Mapping):
            return {k: walk(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if is_reference(value):
            text, trouble, used = _resolve_str(value, path)
            problems.extend(trouble)
            if found is not None:
                found.update(used)
            return text
        return value

    result = walk(obj, prefix)
    if problems:
        raise DescriptorError(problems=problems)
    return result
