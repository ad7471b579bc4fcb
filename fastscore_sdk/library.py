"""Library: a local Model Manage, in a folder or in memory.

A folder library has the layout of the original FastScore's git-backed Model Manage::

    library/
      models/NAME.py3          (or NAME.py, NAME.R, ... by model type)
      schemas/NAME.avsc
      streams/NAME.json
      attachments/MODEL/FILE

A name is the file stem. Four bags give access to the objects: ``lib.schemas``, ``lib.streams``,
``lib.models`` and ``lib.attachments``. Each is a mutable mapping: ``bag[name]`` loads,
``bag[name] = obj`` saves (a file is written to a temporary file and renamed over the old one, so a
reader never sees half a file), ``del bag[name]`` removes, and ``names()``, iteration, ``len`` and
``in`` list what is there.

An in-memory library (``Library()``) keeps the same bags in dictionaries; attachments are copied
into a temporary folder that lives as long as the library.

Stream descriptors with plain-text secrets are refused when saved to a folder (they would end up in
files, and often in git); write ``secret://NAME`` instead, or pass ``allow_plaintext_secrets=True``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from .errors import DescriptorError, FastScoreError
from .schema import Schema

__all__ = ["Library", "LibraryKeyError"]

logger = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_NAME_RULE = (
    "a name is a file stem: letters, digits, '_', '-' and '.', not starting with '.' or '-', "
    "no '/' and no '..', at most 200 characters"
)

# mtype -> extension used when saving; reading also accepts the other extensions listed below.
_MODEL_EXT = {
    "python3": ".py3",
    "python": ".py",
    "r": ".R",
    "pfa-json": ".pfa",
    "pfa-yaml": ".yaml",
    "pfa-pretty": ".ppfa",
    "java": ".java",
    "c": ".c",
    "octave": ".m",
    "jupyter": ".ipynb",
}
# Reading order decides which file wins when two share a stem (.py3 before .py, as FastScore did).
_MODEL_READ_EXTS = (
    ".py3",
    ".py",
    ".R",
    ".r",
    ".pfa",
    ".json",
    ".yaml",
    ".yml",
    ".ppfa",
    ".java",
    ".c",
    ".m",
    ".ipynb",
)


class LibraryKeyError(FastScoreError, KeyError):
    """A name is not in a library bag (also a ``KeyError``, so ``dict``-style code keeps working)."""


def _check_name(kind: str, name: Any) -> str:
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name or len(name) > 200:
        raise ValueError(f"invalid {kind} name {name!r}: {_NAME_RULE}")
    return name


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _atomic_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        shutil.copymode(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class _Bag(MutableMapping):
    """Common behaviour of the four bags: names, lookup errors, folder or memory storage."""

    kind = "object"
    folder = ""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._memory: dict[str, Any] = {}

    # -- storage hooks ---------------------------------------------------------------------------

    @property
    def _dir(self) -> Path | None:
        return None if self.library.path is None else self.library.path / self.folder

    def _files(self) -> dict[str, Path]:
        raise NotImplementedError

    def _load(self, name: str, path: Path) -> Any:
        raise NotImplementedError

    # -- mapping protocol --------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Names in the bag, sorted."""
        if self._dir is None:
            return sorted(self._memory)
        return sorted(self._files())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name:
            return False
        if self._dir is None:
            return name in self._memory
        return name in self._files()

    def _missing(self, name: str) -> LibraryKeyError:
        known = self.names()
        shown = ", ".join(known[:20]) + (", …" if len(known) > 20 else "")
        return LibraryKeyError(
            f"{self.kind} {name!r} not found in {self.library._where()} (known: {shown or 'none'})",
            hint=f"add it with lib.{self.folder}[{name!r}] = ...",
        )

    def __getitem__(self, name: str) -> Any:
        _check_name(self.kind, name)
        if self._dir is None:
            try:
                return self._get_memory(name)
            except KeyError:
                raise self._missing(name) from None
        path = self._files().get(name)
        if path is None:
            raise self._missing(name)
        return self._load(name, path)

    def _get_memory(self, name: str) -> Any:
        return self._memory[name]

    def __delitem__(self, name: str) -> None:
        _check_name(self.kind, name)
        if self._dir is None:
            if name not in self._memory:
                raise self._missing(name)
            del self._memory[name]
            return
        path = self._files().get(name)
        if path is None:
            raise self._missing(name)
        path.unlink()

    def __repr__(self) -> str:
        names = self.names()
        shown = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
        return f"<{self.folder} of {self.library._where()}: {len(names)} ({shown})>"

    def _files_with(self, exts: tuple[str, ...]) -> dict[str, Path]:
        folder = self._dir
        found: dict[str, Path] = {}
        if folder is None or not folder.is_dir():
            return found
        rank = {ext: i for i, ext in enumerate(exts)}
        for entry in folder.iterdir():
            if entry.suffix not in rank or not entry.is_file() or not _SAFE_NAME.match(entry.stem):
                continue
            other = found.get(entry.stem)
            if other is None or rank[entry.suffix] < rank[other.suffix]:
                found[entry.stem] = entry
        return found


class SchemaBag(_Bag):
    """``lib.schemas``: Avro schemas (``schemas/NAME.avsc``), values are :class:`Schema`.

    Saving accepts a :class:`Schema` (its resolved Avro is written, so the file stands alone), a
    dict/list, or Avro JSON text (written as given, ``$ref`` kept, after checking that it resolves).
    """

    kind = "schema"
    folder = "schemas"

    def _files(self) -> dict[str, Path]:
        return self._files_with((".avsc",))

    def _load(self, name: str, path: Path) -> Schema:
        return Schema.load(path, library=self.library)

    def __setitem__(self, name: str, value: Any) -> None:
        _check_name(self.kind, name)
        if isinstance(value, Schema):
            schema, avro = value, value.avro
        else:
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            schema = Schema(name, value, library=self.library)  # raises SchemaError if invalid
            avro = value
            if isinstance(value, str):
                text = value.strip()
                # JSON text is kept as written ($ref included); a bare name is saved resolved
                avro = json.loads(text) if text[:1] in ("{", "[", '"') else schema.avro
        if self._dir is None:
            self._memory[name] = schema
            return
        _atomic_write(self._dir / f"{name}.avsc", (json.dumps(avro, indent=2) + "\n").encode("utf-8"))


class StreamBag(_Bag):
    """``lib.streams``: stream descriptors (``streams/NAME.json``), values are ``Stream`` objects.

    Saving accepts a ``Stream`` (its ``desc`` is written), a descriptor dict, or JSON text.
    """

    kind = "stream"
    folder = "streams"

    def _files(self) -> dict[str, Path]:
        return self._files_with((".json",))

    def _make(self, name: str, desc: Any) -> Any:
        from .stream import Stream

        return Stream(name, desc, library=self.library)

    def _load(self, name: str, path: Path) -> Any:
        text = path.read_text(encoding="utf-8")
        try:
            desc = json.loads(text)
        except json.JSONDecodeError as err:
            raise DescriptorError(
                f"{path}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno})",
                code="FS-D000",
                stream=name,
            ) from None
        return self._make(name, desc)

    def _get_memory(self, name: str) -> Any:
        return self._make(name, json.loads(self._memory[name]))

    def __setitem__(self, name: str, value: Any) -> None:
        _check_name(self.kind, name)
        desc = value
        if hasattr(value, "desc"):
            desc = value.desc
        elif isinstance(value, (str, bytes)):
            text = value.decode("utf-8") if isinstance(value, bytes) else value
            if text.strip().startswith("{"):
                try:
                    desc = json.loads(text)
                except json.JSONDecodeError as err:
                    raise DescriptorError(
                        f"not valid JSON ({err.msg} at line {err.lineno} column {err.colno})",
                        code="FS-D000",
                        stream=name,
                    ) from None
            else:  # a literal such as "kafka:host:9092/topic.json"
                from .stream import Stream

                desc = Stream(text, library=self.library).desc
        try:
            text = json.dumps(desc, indent=2, ensure_ascii=False) + "\n"
        except (TypeError, ValueError) as err:
            raise TypeError(f"stream {name!r}: the descriptor is not JSON-able ({err})") from None
        if self._dir is None:
            self._memory[name] = text
            return
        if not self.library.allow_plaintext_secrets:
            from .descriptor import has_plaintext_secrets

            fields = list(has_plaintext_secrets(desc))
            if fields:
                raise DescriptorError(
                    f"refusing to save stream {name!r} to {self.library._where()}: plain-text secret in "
                    f"{', '.join(fields)}",
                    code="FS-L001",
                    field=fields[0],
                    fix='store the value in $FASTSCORE_SECRETS_DIR/NAME or the env var NAME and write "secret://NAME"'
                    " (or pass Library(..., allow_plaintext_secrets=True))",
                    stream=name,
                )
        _atomic_write(self._dir / f"{name}.json", text.encode("utf-8"))


class ModelBag(_Bag):
    """``lib.models``: model sources (``models/NAME.py3``, ``.py``, ...), values are ``Model`` objects.

    Saving accepts a ``Model`` (its ``source`` is written with the extension of its ``mtype``:
    ``.py3`` for python3, ``.py`` for python) or Python 3 source text. In memory, the object itself
    is kept.
    """

    kind = "model"
    folder = "models"

    def _files(self) -> dict[str, Path]:
        return self._files_with(_MODEL_READ_EXTS)

    def _load(self, name: str, path: Path) -> Any:
        from .model import Model

        # the model comes with the archives stored for it under attachments/NAME/
        attachments = self.library.attachments.get(name) or None
        return Model.load(path, library=self.library, attachments=attachments)

    def __setitem__(self, name: str, value: Any) -> None:
        _check_name(self.kind, name)
        if isinstance(value, (str, bytes)):
            source = value.decode("utf-8") if isinstance(value, bytes) else value
            mtype = "python3"
            if self._dir is None:
                from .model import Model

                value = Model(name, source, mtype=mtype, library=self.library)
        else:
            source = getattr(value, "source", None)
            if not isinstance(source, str):
                raise TypeError(
                    f"model {name!r}: expected a Model (with a .source string) or source text, "
                    f"not {type(value).__name__}"
                )
            mtype = getattr(value, "mtype", None) or "python3"
        ext = _MODEL_EXT.get(str(mtype).lower())
        if ext is None:
            raise ValueError(f"model {name!r}: unknown model type {mtype!r} (known: {', '.join(_MODEL_EXT)})")
        if self._dir is None:
            self._memory[name] = value
            return
        _atomic_write(self._dir / f"{name}{ext}", source.encode("utf-8"))
        for other in _MODEL_READ_EXTS:  # a model changing type must not leave its old file behind
            if other != ext:
                stale = self._dir / f"{name}{other}"
                if stale.is_file():
                    stale.unlink()


class AttachmentBag(_Bag):
    """``lib.attachments``: model name -> list of attachment paths (``attachments/MODEL/FILE``).

    ``bag[model] = [paths]`` replaces the model's attachments with copies of those files;
    ``del bag[model]`` removes them. :meth:`Library.add_attachment` adds one file.
    """

    kind = "attachments of model"
    folder = "attachments"

    @property
    def _dir(self) -> Path:
        return self.library._attachment_root()

    def _files(self) -> dict[str, Path]:
        root = self._dir
        if not root.is_dir():
            return {}
        return {
            d.name: d
            for d in root.iterdir()
            if d.is_dir() and _SAFE_NAME.match(d.name) and any(self._listing(d))
        }

    @staticmethod
    def _listing(folder: Path) -> list[Path]:
        return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))

    def _load(self, name: str, path: Path) -> list[Path]:
        return self._listing(path)

    def add(self, model: str, path: str | os.PathLike) -> Path:
        _check_name("model", model)
        src = Path(path)
        if not src.is_file():
            raise FileNotFoundError(f"attachment {str(src)!r} not found (or not a file)")
        _check_name("attachment", src.name)
        dst = self._dir / model / src.name
        _atomic_copy(src, dst)
        return dst

    def __setitem__(self, model: str, paths: Any) -> None:
        _check_name("model", model)
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        sources = [Path(p) for p in paths]
        for src in sources:
            if not src.is_file():
                raise FileNotFoundError(f"attachment {str(src)!r} not found (or not a file)")
            _check_name("attachment", src.name)
        keep = {src.name for src in sources}
        for src in sources:
            self.add(model, src)
        folder = self._dir / model
        for old in self._listing(folder) if folder.is_dir() else []:
            if old.name not in keep:
                old.unlink()

    def __delitem__(self, model: str) -> None:
        _check_name("model", model)
        folder = self._dir / model
        if not folder.is_dir():
            raise self._missing(model)
        shutil.rmtree(folder)


class Library:
    """A local Model Manage: schemas, streams, models and attachments by name.

    Parameters
    ----------
    path
        The library folder (created on first save), or ``None`` for an in-memory library.
    allow_plaintext_secrets
        Save stream descriptors even when they hold a password or key in plain text.

    Examples
    --------
    >>> import tempfile
    >>> lib = Library(tempfile.mkdtemp())
    >>> lib.schemas["price"] = "double"
    >>> lib.schemas.names(), lib.schemas["price"].avro
    (['price'], 'double')
    >>> "volume" in lib.schemas
    False
    """

    _default: Library | None = None
    _default_lock = threading.Lock()

    def __init__(
        self, path: str | os.PathLike | None = None, *, allow_plaintext_secrets: bool = False
    ) -> None:
        self.path: Path | None = None
        if path is not None:
            p = Path(path).expanduser().absolute()
            if p.exists() and not p.is_dir():
                raise ValueError(f"library path {str(p)!r} is a file; a library is a folder")
            self.path = p
        self.allow_plaintext_secrets = allow_plaintext_secrets
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.schemas = SchemaBag(self)
        self.streams = StreamBag(self)
        self.models = ModelBag(self)
        self.attachments = AttachmentBag(self)

    def _where(self) -> str:
        return "the in-memory library" if self.path is None else f"library {self.path}"

    def _attachment_root(self) -> Path:
        if self.path is not None:
            return self.path / "attachments"
        if self._tmp is None:  # removed when the library is garbage-collected or at exit
            self._tmp = tempfile.TemporaryDirectory(prefix="fastscore-library-")
        return Path(self._tmp.name) / "attachments"

    @property
    def in_memory(self) -> bool:
        """True for a library without a folder."""
        return self.path is None

    def add_attachment(self, model: str, path: str | os.PathLike) -> Path:
        """Copy the file at ``path`` in as an attachment of ``model``; returns the copy's path.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "weights.bin"
        >>> _ = f.write_bytes(b"1234")
        >>> lib = Library()
        >>> lib.add_attachment("iris", f).name, [p.name for p in lib.attachments["iris"]]
        ('weights.bin', ['weights.bin'])
        """
        return self.attachments.add(model, path)

    def __repr__(self) -> str:
        if self.path is None:
            return "Library(in memory)"
        return f"Library({str(self.path)!r})"

    @classmethod
    def default(cls) -> Library:
        """The session library: what ``%%schema``/``%%stream``/``%%model`` fill and ``$ref`` falls back to.

        Made on first use: ``$FASTSCORE_LIBRARY`` if set, else ``./library`` if that folder exists
        (the layout of FastScore example repositories), else an in-memory library.

        Examples
        --------
        >>> Library.default() is Library.default()
        True
        """
        with cls._default_lock:
            if cls._default is None:
                env = os.environ.get("FASTSCORE_LIBRARY")
                if env:
                    cls._default = cls(env)
                elif Path("library").is_dir():
                    cls._default = cls("library")
                else:
                    cls._default = cls()
                logger.debug("session library: %r", cls._default)
            return cls._default

    @classmethod
    def set_default(cls, library: Library | None) -> None:
        """Make ``library`` the session library (``None``: choose again on next use)."""
        with cls._default_lock:
            cls._default = library
