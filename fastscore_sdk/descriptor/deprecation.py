"""Deprecation warnings for old spellings, pointed at the caller's line rather than at this package."""

from __future__ import annotations

import os
import sys
import warnings

from ..errors import FastScoreDeprecationWarning

__all__ = ["warn_renamed"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _stacklevel() -> int:
    # Walk out of fastscore_sdk so the warning names the user's line (a notebook cell, a script).
    level = 1
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def warn_renamed(old: str, new: str, where: str) -> None:
    """Warn that ``old`` (found at ``where``) is an old spelling of ``new``.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_renamed("deliminated", "delimited", "Envelope")
    >>> str(caught[0].message)
    "stream descriptor: 'deliminated' at Envelope is an old spelling of 'delimited'; write 'delimited'"
    """
    warnings.warn(
        f"stream descriptor: {old!r} at {where} is an old spelling of {new!r}; write {new!r}",
        FastScoreDeprecationWarning,
        stacklevel=_stacklevel(),
    )
