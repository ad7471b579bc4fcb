"""Smart comments: the ``# fastscore.<tag>[.<scope>]: <value>`` annotations of a model (reference §2.3).

A smart comment is a whole-line comment. Leading whitespace and ``#fastscore`` without a space are
accepted, as the original examples use both. The tags are:

=====================  ============  =================================================================
tag                    scope default value
=====================  ============  =================================================================
``schema.<s>``         ``$all``      a schema name; checked on that slot
``recordsets.<s>``     ``$all``      ``true``/``false``/``yes``/``no`` (any case)
``action.<s>``         ``$in``       a function name, or ``unused``/``none`` (an explicit model)
``slot.<s>``           ``$all``      ``in-use`` (a slot number only) or ``unused``
``module-attached``    (none)        a module shipped in an attachment or the image; may repeat
``snapshots``          (none)        ``none`` or ``eof``
``input``/``output``   (none)        deprecated: ``schema.0`` / ``schema.1``
``recordsets``         (none)        deprecated values ``none``/``input``/``output``/``both``
=====================  ============  =================================================================

A scope is a slot number, ``$all``, ``$in`` (even slots, inputs) or ``$out`` (odd slots, outputs). A
slot number beats ``$in``/``$out``, which beat ``$all``, whatever the order of the lines.

The in-use slots are {0, 1}, plus every slot named by a numeric scope, minus the slots marked
``unused``. A malformed annotation raises :class:`~fastscore_sdk.errors.ModelError` naming the line
and the fix; old spellings are accepted with a :class:`~fastscore_sdk.errors.FastScoreDeprecationWarning`.

Examples
--------
>>> ann = parse_annotations('''
... # fastscore.schema.0: double
... #fastscore.schema.1: string
... def action(x):
...     yield str(x)
... ''')
>>> [(s.slot, s.direction, s.schema) for s in ann.slots]
[(0, 'input', 'double'), (1, 'output', 'string')]
>>> ann.explicit
False
"""

from __future__ import annotations

import difflib
import io
import logging
import re
import tokenize
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import FastScoreDeprecationWarning, ModelError

__all__ = ["Annotation", "Annotations", "SlotInfo", "parse_annotations"]

logger = logging.getLogger("fastscore_sdk.model")

INPUT = "input"
OUTPUT = "output"

# Matches the start of a smart comment; the rest of the line is parsed by hand so that a bad line
# gets a precise message instead of being silently ignored.
_HEAD = re.compile(r"^\s*#\s*fastscore\.(?P<rest>.*)$", re.IGNORECASE)
_KEY = re.compile(r"^(?P<tag>[A-Za-z][A-Za-z0-9_-]*)(?:\.(?P<scope>[^\s:]*))?\s*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_SCOPES = ("$all", "$in", "$out")
_TAGS = (
    "schema",
    "recordsets",
    "action",
    "slot",
    "module-attached",
    "snapshots",
    "input",
    "output",
)
_TRUE = {"true", "yes"}
_FALSE = {"false", "no"}
_EXPLICIT_VALUES = {"unused", "none"}


@dataclass(frozen=True)
class Annotation:
    """One smart comment as written.

    Attributes
    ----------
    line
        1-based line number in the model source.
    tag
        Canonical tag (``schema``, ``recordsets``, ``action``, ``slot``, ``module-attached``,
        ``snapshots``); the deprecated ``input``/``output`` are stored as ``schema``.
    scope
        ``"$all"``, ``"$in"``, ``"$out"``, a slot number as text, or None for unscoped tags.
    value
        The value, stripped.
    text
        The whole line, stripped, for error messages.
    """

    line: int
    tag: str
    scope: str | None
    value: str
    text: str

    def where(self) -> str:
        """``line N: <text>``, the form error messages use."""
        return f"line {self.line}: {self.text}"


@dataclass(frozen=True)
class SlotInfo:
    """What the annotations say about one in-use slot.

    Attributes
    ----------
    slot
        Slot number; even slots are inputs, odd slots outputs.
    direction
        ``"input"`` or ``"output"``.
    schema
        The schema name from the annotations (a :class:`~fastscore_sdk.schema.Schema` once a
        :class:`~fastscore_sdk.model.Model` has resolved it), or None for an untyped slot.
    recordsets
        True when the slot carries whole batches (DataFrame, Series or matrix) instead of records.
    action
        For an input slot of a call-back model, the function that receives its data (``action`` by
        default); None for output slots and for explicit models.
    """

    slot: int
    direction: str
    schema: Any = None
    recordsets: bool = False
    action: str | None = None

    @property
    def is_input(self) -> bool:
        """True for an input (even) slot."""
        return self.direction == INPUT

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able form: the schema as its name (None when untyped).

        Examples
        --------
        >>> SlotInfo(0, "input", "double", False, "action").as_dict()
        {'slot': 0, 'direction': 'input', 'schema': 'double', 'recordsets': False, 'action': 'action'}
        """
        schema = self.schema
        if schema is not None and not isinstance(schema, str):
            schema = getattr(schema, "name", None) or "(anonymous)"
        return {
            "slot": self.slot,
            "direction": self.direction,
            "schema": schema,
            "recordsets": self.recordsets,
            "action": self.action,
        }


@dataclass(frozen=True)
class Annotations:
    """Everything the smart comments of a model say.

    Attributes
    ----------
    slots
        One :class:`SlotInfo` per in-use slot, in slot order.
    explicit
        True for an explicit model (``# fastscore.action: unused``): the source runs top to bottom
        and talks to ``fastscore.io.Slot``; no call-backs.
    modules_attached
        Module names from ``# fastscore.module-attached:`` lines, in order, without duplicates.
    snapshots
        ``"none"`` (the default) or ``"eof"``.
    entries
        Every smart comment, in source order.
    """

    slots: tuple[SlotInfo, ...]
    explicit: bool = False
    modules_attached: tuple[str, ...] = ()
    snapshots: str = "none"
    entries: tuple[Annotation, ...] = ()
    # Which line set each slot's schema, so an unresolved name can be reported with its line.
    _schema_entries: dict[int, Annotation] = field(
        default_factory=dict, repr=False, compare=False, hash=False
    )
    _action_entries: dict[int, Annotation] = field(
        default_factory=dict, repr=False, compare=False, hash=False
    )

    @property
    def in_use(self) -> tuple[int, ...]:
        """The in-use slot numbers, sorted."""
        return tuple(s.slot for s in self.slots)

    @property
    def inputs(self) -> tuple[SlotInfo, ...]:
        """The in-use input (even) slots."""
        return tuple(s for s in self.slots if s.direction == INPUT)

    @property
    def outputs(self) -> tuple[SlotInfo, ...]:
        """The in-use output (odd) slots."""
        return tuple(s for s in self.slots if s.direction == OUTPUT)

    def slot(self, n: int) -> SlotInfo:
        """The :class:`SlotInfo` of slot ``n``; KeyError when the slot is not in use."""
        for info in self.slots:
            if info.slot == n:
                return info
        raise KeyError(f"slot {n} is not in use (in-use slots: {list(self.in_use)})")

    def schema_annotation(self, n: int) -> Annotation | None:
        """The smart comment that gave slot ``n`` its schema, or None."""
        return self._schema_entries.get(n)

    def action_annotation(self, n: int) -> Annotation | None:
        """The smart comment that named slot ``n``'s action, or None for the default ``action``."""
        return self._action_entries.get(n)


def _comment_lines(source: str, python: bool) -> Iterator[tuple[int, str]]:
    """Whole-line comments of ``source`` as (line number, line text).

    For Python the tokenizer is used so that a ``# fastscore.`` line inside a string literal (a
    docstring showing an example) is not taken for an annotation. When the source does not tokenize
    (a syntax error, reported later with its own line), every line is scanned instead.
    """
    if python:
        found: list[tuple[int, str]] = []
        try:
            for tok in tokenize.generate_tokens(io.StringIO(source).readline):
                if tok.type == tokenize.COMMENT and not tok.line[: tok.start[1]].strip():
                    found.append((tok.start[0], tok.line.rstrip("\r\n")))
        except (tokenize.TokenError, SyntaxError):
            pass
        else:
            yield from found
            return
    for number, text in enumerate(source.splitlines(), start=1):
        if text.lstrip().startswith("#"):
            yield number, text


def _near_tag(word: str) -> str | None:
    """The known tag ``word`` is probably a misspelling of, if any."""
    close = difflib.get_close_matches(word, _TAGS, n=1, cutoff=0.75)
    return close[0] if close else None


def _fail(message: str, entry_line: int, text: str, fix: str, model: str | None) -> ModelError:
    return ModelError(f"{message} ({text.strip()})", model=model, line=entry_line, hint=fix)


def _deprecated(message: str) -> None:
    # stacklevel 4 points past parse_annotations and Model.__init__ at the caller's code
    warnings.warn(message, FastScoreDeprecationWarning, stacklevel=4)


def _parse_line(number: int, text: str, model: str | None) -> Annotation | None:
    head = _HEAD.match(text)
    if head is None:
        return None
    rest = head.group("rest")
    key, colon, value = rest.partition(":")
    first = re.split(r"[.\s]", key.strip(), maxsplit=1)[0].lower()
    if first not in _TAGS and first != "recordset" and not _near_tag(first):
        # An ordinary comment that happens to mention fastscore (e.g. "# fastscore.io gives Slot").
        logger.debug("line %d: not a smart comment, ignored: %s", number, text.strip())
        return None
    if not colon:
        raise _fail(
            "smart comment has no ':'",
            number,
            text,
            "write it as '# fastscore.<tag>[.<slot>]: <value>', e.g. '# fastscore.schema.0: double'",
            model,
        )
    # A trailing '# remark' after the value is a comment, not part of the value.
    value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
    m = _KEY.match(key.strip())
    if m is None:
        raise _fail(
            f"cannot read the tag {key.strip()!r}",
            number,
            text,
            f"use one of {', '.join(_TAGS)}, optionally followed by .<slot>, .$all, .$in or .$out",
            model,
        )
    tag = m.group("tag").lower()
    scope = m.group("scope")
    if tag == "recordset":
        _deprecated(
            f"line {number}: '# fastscore.recordset' is an old spelling; write '# fastscore.recordsets'"
        )
        tag = "recordsets"
    if tag not in _TAGS:
        raise _fail(
            f"unknown smart comment tag {tag!r}",
            number,
            text,
            f"did you mean {_near_tag(tag)!r}? The tags are {', '.join(_TAGS)}",
            model,
        )
    if scope is not None:
        if scope == "":
            raise _fail(
                "empty scope after the tag",
                number,
                text,
                "write a slot number, $all, $in or $out after the dot, or drop the dot",
                model,
            )
        if tag in ("module-attached", "snapshots", "input", "output"):
            raise _fail(
                f"'{tag}' takes no slot scope",
                number,
                text,
                f"write '# fastscore.{tag}: <value>'",
                model,
            )
        low = scope.lower()
        if low in _SCOPES:
            scope = low
        elif scope.isdigit():
            scope = str(int(scope))
        elif low in ("all", "in", "out"):
            raise _fail(
                f"scope {scope!r} needs a '$'",
                number,
                text,
                f"write '# fastscore.{tag}.${low}: ...'",
                model,
            )
        else:
            raise _fail(
                f"slot scope {scope!r} is not supported",
                number,
                text,
                "use a slot number (0, 1, 2, ...) or $all, $in, $out; named slots are not supported",
                model,
            )
    if not value:
        raise _fail(
            f"'{tag}' has no value",
            number,
            text,
            "write the value after the ':'",
            model,
        )
    return Annotation(number, tag, scope, value, text.strip())


def parse_annotations(source: str, *, model: str | None = None, mtype: str = "python3") -> Annotations:
    """Parse the smart comments of a model's source.

    Parameters
    ----------
    source
        The model source text.
    model
        The model's name, used in error messages.
    mtype
        The model type; Python sources are tokenized so that comments inside strings are skipped.

    Returns
    -------
    Annotations
        The in-use slots with their schema names, recordsets flags and actions, plus the
        model-wide settings.

    Raises
    ------
    ModelError
        A smart comment is malformed or contradicts another one; ``.line`` is its line number.

    Examples
    --------
    >>> ann = parse_annotations("# fastscore.slot.1: unused\\n# fastscore.schema.0: double\\n")
    >>> ann.in_use
    (0,)
    >>> parse_annotations("# fastscore.action: unused\\n").explicit
    True
    """
    python = mtype in ("python", "python3")
    entries: list[Annotation] = []
    for number, text in _comment_lines(source, python):
        entry = _parse_line(number, text, model)
        if entry is not None:
            entries.append(entry)

    # tag -> scope -> entry; the same scope twice must agree
    scoped: dict[str, dict[str, Annotation]] = {"schema": {}, "recordsets": {}, "action": {}}
    mentioned: set[int] = set()
    unused_scopes: list[tuple[str, Annotation]] = []
    modules: list[str] = []
    snapshots = "none"
    snapshots_entry: Annotation | None = None
    normalised: list[Annotation] = []

    def put(tag: str, scope: str, value: Any, entry: Annotation) -> None:
        table = scoped[tag]
        prior = table.get(scope)
        if prior is not None and _value_of(tag, prior) != value:
            raise _fail(
                f"conflicts with line {prior.line} ({prior.text})",
                entry.line,
                entry.text,
                "keep one of the two lines",
                model,
            )
        table[scope] = Annotation(entry.line, tag, scope, str(value), entry.text)
        if scope.isdigit():
            mentioned.add(int(scope))

    for entry in entries:
        tag, scope, value = entry.tag, entry.scope, entry.value
        if tag in ("input", "output"):
            slot = "0" if tag == "input" else "1"
            _deprecated(
                f"line {entry.line}: '# fastscore.{tag}: {value}' is deprecated; "
                f"write '# fastscore.schema.{slot}: {value}'"
            )
            _check_schema_name(value, entry, model)
            put("schema", slot, value, entry)
            normalised.append(Annotation(entry.line, "schema", slot, value, entry.text))
            continue
        normalised.append(entry)
        if tag == "schema":
            _check_schema_name(value, entry, model)
            put("schema", scope or "$all", value, entry)
        elif tag == "recordsets":
            low = value.lower()
            if scope is None and low in ("none", "input", "output", "both"):
                target = {"none": None, "input": "$in", "output": "$out", "both": "$all"}[low]
                hint = "" if target is None else f"write '# fastscore.recordsets.{target}: true'"
                _deprecated(
                    f"line {entry.line}: '# fastscore.recordsets: {value}' is deprecated; "
                    + (hint or "drop the line (recordsets are off by default)")
                )
                if target is not None:
                    put("recordsets", target, True, entry)
                continue
            if low in _TRUE:
                flag = True
            elif low in _FALSE:
                flag = False
            else:
                raise _fail(
                    f"recordsets value {value!r} is not true/false/yes/no",
                    entry.line,
                    entry.text,
                    "write true, false, yes or no",
                    model,
                )
            put("recordsets", scope or "$all", flag, entry)
        elif tag == "action":
            where = scope or "$in"
            if where == "$out" or (where.isdigit() and int(where) % 2 == 1):
                raise _fail(
                    "actions apply to input (even) slots only",
                    entry.line,
                    entry.text,
                    "name an even slot, e.g. '# fastscore.action.0: score', or use $in",
                    model,
                )
            if where == "$all":
                where = "$in"
            low = value.lower()
            if low in _EXPLICIT_VALUES:
                put("action", where, None, entry)
            elif _IDENT.match(value):
                put("action", where, value, entry)
            else:
                raise _fail(
                    f"action {value!r} is not a function name",
                    entry.line,
                    entry.text,
                    "write a Python function name, or 'unused' for an explicit model",
                    model,
                )
        elif tag == "slot":
            low = value.lower()
            where = scope or "$all"
            if low == "in-use":
                if not where.isdigit():
                    raise _fail(
                        f"'in-use' needs a slot number, not {where}",
                        entry.line,
                        entry.text,
                        "write '# fastscore.slot.<n>: in-use' for each slot",
                        model,
                    )
                mentioned.add(int(where))
            elif low == "unused":
                unused_scopes.append((where, entry))
            else:
                raise _fail(
                    f"slot value {value!r} is not 'in-use' or 'unused'",
                    entry.line,
                    entry.text,
                    "write in-use or unused",
                    model,
                )
        elif tag == "module-attached":
            for name in (part.strip() for part in value.split(",")):
                if not _DOTTED.match(name):
                    raise _fail(
                        f"{name!r} is not a module name",
                        entry.line,
                        entry.text,
                        "write one module name per line, e.g. '# fastscore.module-attached: xgboost'",
                        model,
                    )
                if name not in modules:
                    modules.append(name)
        elif tag == "snapshots":
            low = value.lower()
            if low not in ("none", "eof"):
                raise _fail(
                    f"snapshots value {value!r} is not 'none' or 'eof'",
                    entry.line,
                    entry.text,
                    "write none or eof",
                    model,
                )
            if snapshots_entry is not None and snapshots != low:
                raise _fail(
                    f"conflicts with line {snapshots_entry.line} ({snapshots_entry.text})",
                    entry.line,
                    entry.text,
                    "keep one of the two lines",
                    model,
                )
            snapshots, snapshots_entry = low, entry

    in_use = {0, 1} | mentioned
    for where, _entry in unused_scopes:
        in_use = {s for s in in_use if not _covers(where, s)}

    actions = scoped["action"]
    explicit = any(_value_of("action", a) is None for a in actions.values())
    if explicit:
        named = [a for a in actions.values() if _value_of("action", a) is not None]
        if named:
            raise _fail(
                "an explicit model (action: unused) cannot name call-back actions",
                named[0].line,
                named[0].text,
                "drop the per-slot action lines, or drop '# fastscore.action: unused'",
                model,
            )

    slots: list[SlotInfo] = []
    schema_entries: dict[int, Annotation] = {}
    action_entries: dict[int, Annotation] = {}
    for n in sorted(in_use):
        direction = INPUT if n % 2 == 0 else OUTPUT
        schema_entry = _lookup(scoped["schema"], n)
        rs_entry = _lookup(scoped["recordsets"], n)
        action: str | None = None
        if direction == INPUT and not explicit:
            act_entry = _lookup(actions, n)
            action = "action" if act_entry is None else act_entry.value
            if act_entry is not None:
                action_entries[n] = act_entry
        if schema_entry is not None:
            schema_entries[n] = schema_entry
        slots.append(
            SlotInfo(
                slot=n,
                direction=direction,
                schema=None if schema_entry is None else schema_entry.value,
                recordsets=False if rs_entry is None else rs_entry.value == "True",
                action=action,
            )
        )
    return Annotations(
        slots=tuple(slots),
        explicit=explicit,
        modules_attached=tuple(modules),
        snapshots=snapshots,
        entries=tuple(normalised),
        _schema_entries=schema_entries,
        _action_entries=action_entries,
    )


def _value_of(tag: str, entry: Annotation) -> Any:
    """The typed value stored in a normalised entry (booleans and None are kept as text)."""
    if tag == "recordsets":
        return entry.value == "True"
    if tag == "action":
        return None if entry.value == "None" else entry.value
    return entry.value


def _covers(scope: str, slot: int) -> bool:
    if scope == "$all":
        return True
    if scope == "$in":
        return slot % 2 == 0
    if scope == "$out":
        return slot % 2 == 1
    return int(scope) == slot


def _lookup(table: dict[str, Annotation], slot: int) -> Annotation | None:
    """The entry that applies to ``slot``: its own number, then $in/$out, then $all."""
    for scope in (str(slot), "$in" if slot % 2 == 0 else "$out", "$all"):
        entry = table.get(scope)
        if entry is not None:
            return entry
    return None


def _check_schema_name(value: str, entry: Annotation, model: str | None) -> None:
    if any(ch.isspace() for ch in value):
        raise _fail(
            f"schema name {value!r} contains spaces",
            entry.line,
            entry.text,
            "write one schema name, e.g. '# fastscore.schema.0: close_price'",
            model,
        )
