"""Descriptors to and from JSON text, losslessly: key order, unknown keys and old spellings are kept."""

from __future__ import annotations

import json
from typing import Any

from ..errors import DescriptorError

__all__ = ["copy_json", "from_json", "to_json"]


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON-like value (dicts and lists are copied, scalars shared).

    Examples
    --------
    >>> d = {"Transport": {"Type": "file"}}
    >>> c = copy_json(d)
    >>> c == d and c["Transport"] is not d["Transport"]
    True
    """
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    if isinstance(value, tuple):
        return [copy_json(v) for v in value]
    return value


def to_json(desc: Any, *, indent: int | None = 2) -> str:
    """The descriptor as JSON text; ``json.loads(to_json(d)) == d`` for any descriptor loaded from JSON.

    Parameters
    ----------
    desc
        The descriptor as written (not redacted: redact it first with
        :func:`fastscore_sdk.descriptor.redact` to show it).
    indent
        Indentation, or None for one line.

    Raises
    ------
    DescriptorError
        ``FS-D033`` when the descriptor holds a value JSON cannot represent (bytes, NaN, an object).

    Examples
    --------
    >>> to_json({"Transport": "REST", "Encoding": "json"}, indent=None)
    '{"Transport": "REST", "Encoding": "json"}'
    """
    try:
        return json.dumps(desc, indent=indent, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DescriptorError(
            f"the stream descriptor cannot be written as JSON: {exc}",
            code="FS-D033",
            field="",
            fix="use only JSON values (objects, arrays, strings, finite numbers, true/false/null)",
        ) from None


def from_json(text: str | bytes) -> dict[str, Any]:
    """Parse descriptor JSON text into a dict (as written: no alias or default is applied).

    Raises
    ------
    DescriptorError
        ``FS-D033`` when the text is not valid JSON (with line and column), ``FS-D030`` when it is not
        a JSON object.

    Examples
    --------
    >>> from_json('{"Transport": "REST", "Encoding": "json"}')
    {'Transport': 'REST', 'Encoding': 'json'}
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DescriptorError(
            f"the stream descriptor is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            code="FS-D033",
            field="",
            fix="check quotes, commas and braces near that position (JSON has no comments)",
        ) from None
    except (UnicodeDecodeError, TypeError) as exc:
        raise DescriptorError(
            f"the stream descriptor is not valid JSON text: {exc}",
            code="FS-D033",
            field="",
            fix="pass UTF-8 JSON text",
        ) from None
    if not isinstance(value, dict):
        raise DescriptorError(
            f"a stream descriptor must be a JSON object, not {type(value).__name__}",
            code="FS-D030",
            field="",
            fix='write an object such as {"Transport": "REST", "Encoding": "json"}',
        )
    return value
