"""Models: smart comments, ``Model`` (score and validate in-process) and the ``ModelRunner`` engines drive.

Examples
--------
>>> from fastscore_sdk.model import Model
>>> Model("yield1234", "def action(x):\\n    yield 12.34\\n").score([1.0])
[12.34]
"""

from __future__ import annotations

from .annotations import Annotation, Annotations, SlotInfo, parse_annotations
from .model import MISSING, Mismatch, Model, ValidationReport
from .runner import ModelRunner

__all__ = [
    "MISSING",
    "Annotation",
    "Annotations",
    "Mismatch",
    "Model",
    "ModelRunner",
    "SlotInfo",
    "ValidationReport",
    "parse_annotations",
]
