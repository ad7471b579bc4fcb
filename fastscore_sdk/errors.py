"""One exception family for the whole SDK.

Every error carries the context a user needs to act on it (which field, which rule, which slot, which
record) as attributes, and says in its message what was wrong, where, and how to fix it. Each class is
also the builtin a caller would naturally catch (``ValueError`` for bad descriptors and records,
``OSError`` for transports, ...), so ``except ValueError`` keeps working in user code.

No message ever contains a secret: callers format values through :func:`fastscore_sdk.secrets.redact`
before they reach an error.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "DescriptorError",
    "EngineError",
    "FastScoreDeprecationWarning",
    "FastScoreError",
    "FastScoreTimeoutError",
    "MissingDependencyError",
    "ModelError",
    "NotSupportedError",
    "Problem",
    "RecordError",
    "Rejected",
    "SchemaError",
    "TransportError",
]


class FastScoreError(Exception):
    """Base class of every error raised by fastscore_sdk.

    Parameters
    ----------
    message
        What was wrong, where, and how to fix it.
    hint
        Optional "how to fix it" sentence, appended to the message.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self._compose())

    def _compose(self) -> str:
        if self.hint and self.hint not in self.message:
            return f"{self.message} ({self.hint})"
        return self.message

    def __str__(self) -> str:
        return self._compose()

    def __reduce__(self):  # keep errors picklable across process isolation
        return (_rebuild_error, (type(self), self.__dict__.copy()))


def _rebuild_error(cls: type, state: dict) -> FastScoreError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message", ""))
    err.__dict__.update(state)
    return err


@dataclass(frozen=True)
class Problem:
    """One violation found in a stream descriptor.

    Attributes
    ----------
    code
        Stable rule code such as ``FS-D003``; documented in ``fastscore_sdk.descriptor.rules``.
    field
        Dotted path of the offending field, e.g. ``Transport.Path`` or ``Envelope``.
    message
        What is wrong.
    fix
        How to fix it.
    """

    code: str
    field: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"[{self.code}] {self.field}: {self.message}"
        return f"{text}; fix: {self.fix}" if self.fix else text


class DescriptorError(FastScoreError, ValueError):
    """A stream descriptor (JSON or literal) is malformed or breaks a restriction rule.

    ``problems`` lists every violation found, not just the first; ``code`` and ``field`` are those of
    the first problem.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str = "FS-D000",
        field: str = "",
        fix: str = "",
        problems: list[Problem] | None = None,
        stream: str | None = None,
    ) -> None:
        if problems is None:
            problems = [Problem(code, field, message or "invalid descriptor", fix)]
        self.problems = list(problems)
        first = self.problems[0]
        self.code = first.code
        self.field = first.field
        self.stream = stream
        where = f"stream {stream!r}: " if stream else ""
        if message is None or (len(self.problems) == 1 and message == first.message):
            if len(self.problems) == 1:
                message = f"{where}{first}"
            else:
                lines = "\n".join(f"  {p}" for p in self.problems)
                message = f"{where}{len(self.problems)} problems in the stream descriptor:\n{lines}"
        else:
            message = f"{where}{message}"
        super().__init__(message)


class SchemaError(FastScoreError, ValueError):
    """A schema is invalid, or a record does not match its schema.

    Attributes
    ----------
    path
        Where in the record the mismatch is, e.g. ``$.items[3].price`` (``$`` is the record itself).
    value
        The offending value (already safe to show).
    record_index
        Index of the record in its stream or batch, when known.
    slot
        Engine slot the record travelled through, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        value: Any = None,
        record_index: int | None = None,
        slot: int | None = None,
        schema: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.reason = message
        self.path = path
        self.value = value
        self.record_index = record_index
        self.slot = slot
        self.schema = schema
        super().__init__(
            _locate(message, path=path, record_index=record_index, slot=slot, schema=schema), hint=hint
        )


def _locate(message: str, **where: Any) -> str:
    parts = []
    if where.get("slot") is not None:
        parts.append(f"slot {where['slot']}")
    if where.get("record_index") is not None:
        parts.append(f"record {where['record_index']}")
    if where.get("path") not in (None, "", "$"):
        parts.append(f"at {where['path']}")
    if where.get("schema"):
        parts.append(f"schema {where['schema']!r}")
    return f"{', '.join(parts)}: {message}" if parts else message


class RecordError(FastScoreError, ValueError):
    """A record could not be framed or decoded (bad JSON, short fixed frame, broken OCF block).

    Raised only when the caller asked for fail-fast (``errors="raise"``); otherwise the record is
    rejected and counted (see :class:`Rejected`).
    """

    def __init__(
        self,
        message: str,
        *,
        record_index: int | None = None,
        slot: int | None = None,
        stream: str | None = None,
        raw: bytes | None = None,
        hint: str | None = None,
    ) -> None:
        self.reason = message
        self.record_index = record_index
        self.slot = slot
        self.stream = stream
        self.raw = raw
        where = f"stream {stream!r}, " if stream else ""
        super().__init__(f"{where}{_locate(message, record_index=record_index, slot=slot)}", hint=hint)


class TransportError(FastScoreError, OSError):
    """A transport could not be opened, read or written (file missing, host unreachable, ...).

    The message names the stream, the transport type and the host or path, never a credential.
    """

    def __init__(
        self,
        message: str,
        *,
        stream: str | None = None,
        transport: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.stream = stream
        self.transport = transport
        prefix = []
        if stream:
            prefix.append(f"stream {stream!r}")
        if transport:
            prefix.append(f"{transport} transport")
        head = f"{' '.join(prefix)}: " if prefix else ""
        FastScoreError.__init__(self, f"{head}{message}", hint=hint)


class ModelError(FastScoreError, RuntimeError):
    """A model failed to load or raised while scoring.

    Attributes
    ----------
    slot, record_index
        Where the failing input came from.
    input
        The input (record or batch) that caused the error.
    traceback
        The model's traceback as text.
    line
        Source line (1-based) of a bad smart comment or a syntax error, when that is the cause.
    """

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        slot: int | None = None,
        record_index: int | None = None,
        input: Any = None,
        traceback: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.model = model
        self.slot = slot
        self.record_index = record_index
        self.input = input
        self.traceback = traceback
        self.line = line
        where = []
        if model:
            where.append(f"model {model!r}")
        if line is not None:
            where.append(f"line {line}")
        head = f"{', '.join(where)}: " if where else ""
        super().__init__(f"{head}{_locate(message, slot=slot, record_index=record_index)}", hint=hint)


class EngineError(FastScoreError, RuntimeError):
    """An engine operation is not allowed in the engine's current state, or the engine failed."""

    def __init__(self, message: str, *, state: str | None = None, hint: str | None = None) -> None:
        self.state = state
        super().__init__(message if state is None else f"{message} (engine state: {state})", hint=hint)


class MissingDependencyError(FastScoreError, ImportError):
    """An optional dependency is not installed; the message gives the pip command that installs it."""

    def __init__(self, what: str, *, extra: str | None = None, package: str | None = None) -> None:
        self.extra = extra
        self.package = package
        if extra:
            how = f"pip install 'fastscore_sdk[{extra}]'"
        elif package:
            how = f"pip install {package}"
        else:
            how = None
        FastScoreError.__init__(
            self, f"{what} needs a package that is not installed", hint=how and f"install it with: {how}"
        )


class NotSupportedError(FastScoreError, NotImplementedError):
    """A feature the original FastScore had that this SDK parses but cannot run yet."""


class FastScoreTimeoutError(FastScoreError, TimeoutError):
    """An operation did not complete in the time allowed."""


class FastScoreDeprecationWarning(DeprecationWarning):
    """An old spelling (``deliminated``, ``Seperator``, ``debug``, ``utf8``, ...) was accepted.

    Shown by default: the package installs a warnings filter for this class only.
    """


class Rejected(NamedTuple):
    """A record that was rejected and counted instead of stopping the stream.

    Attributes
    ----------
    index
        Index of the record in its stream (0-based, counting every frame read, rejected or not).
    reason
        Why it was rejected, naming the field path where there is one.
    raw
        The record's bytes as read (or the decoded value when no bytes exist).
    kind
        ``"encoding"`` (could not be framed or decoded) or ``"schema"`` (decoded, but does not match).
    slot
        Engine slot, when the record came through an engine.
    """

    index: int
    reason: str
    raw: Any = None
    kind: str = "encoding"
    slot: int | None = None


warnings.filterwarnings("default", category=FastScoreDeprecationWarning)
