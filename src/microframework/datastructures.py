"""``datastructures.py``: werkzeug's datastructures under Quart's module name, for ports.

Rule: werkzeug's own classes, as Flask uses them; only ``FileStorage`` adds to its
werkzeug base, so that both Flask's and Quart's way of saving an upload work.
"""

from __future__ import annotations

import os
import threading
from contextlib import suppress
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import IO

from werkzeug.datastructures import Accept
from werkzeug.datastructures import Authorization
from werkzeug.datastructures import CallbackDict
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.datastructures import ContentRange
from werkzeug.datastructures import ETags
from werkzeug.datastructures import FileStorage as _FileStorage
from werkzeug.datastructures import Headers
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.datastructures import MIMEAccept
from werkzeug.datastructures import MultiDict
from werkzeug.datastructures import Range
from werkzeug.datastructures import RequestCacheControl
from werkzeug.datastructures import ResponseCacheControl
from werkzeug.datastructures import WWWAuthenticate

from ._utils import alias
from ._utils import DONE
from ._utils import Done

CLOSE_OFF_LOOP = 16 * 1024 * 1024


class FileStorage(_FileStorage):
    """An uploaded file: werkzeug's, with a ``save`` that may also be awaited."""

    # Declared: load() assigns a str, and pyright would otherwise infer ``str`` for all.
    filename: str | None

    def close(self) -> None:
        """Close the file as :meth:`close_stream` does; quiet on error, as werkzeug's."""
        with suppress(Exception):
            self.close_stream(self.stream)

    @staticmethod
    def close_stream(stream: IO[bytes]) -> None:
        """Close *stream*; a spooled temporary file on disk of ``CLOSE_OFF_LOOP`` bytes
        or more (an upload's, a body's) in a thread of its own, which holds it until it
        is closed: freeing its pages held the event loop (a 512 MiB one's, 40-300 ms)."""
        if (
            isinstance(stream, SpooledTemporaryFile)
            and stream.name is not None  # it has a name once rolled over to disk
            and not stream.closed
            and os.fstat(stream.fileno()).st_size >= CLOSE_OFF_LOOP
        ):
            threading.Thread(target=stream.close, name="upload close").start()
        else:
            stream.close()

    def save(  # type: ignore[override] # also awaitable, see below
        self,
        dst: str | os.PathLike[str] | IO[bytes] | None = None,
        buffer_size: int = 16384,
        *,
        destination: str | os.PathLike[str] | IO[bytes] | None = None,
    ) -> Done:
        """Write the file to *dst* (Quart's *destination*) before returning, so that
        Flask's ``file.save(dst)`` and Quart's ``await file.save(dst)`` both work. It
        blocks while it writes: for a big file, ``await asyncio.to_thread(file.save, dst)``."""
        super().save(
            alias(dst, destination, "dst", "destination", "save()"), buffer_size
        )
        return DONE

    async def load(
        self,
        src: str | os.PathLike[str] | None = None,
        buffer_size: int = 16384,
        *,
        source: str | os.PathLike[str] | None = None,
    ) -> None:
        """Fill this file's stream from the file at *src* (Quart's *source*) and take
        its name. The stream is left at its start, ready to read or upload (Quart's is
        at its end)."""
        import aiofiles  # only here: most apps never load a file

        path: str | os.PathLike[str] = alias(src, source, "src", "source", "load()")
        self.filename = Path(path).name
        async with aiofiles.open(path, "rb") as file:
            while chunk := await file.read(buffer_size):
                self.stream.write(chunk)
        self.stream.seek(0)


__all__ = [
    "Accept",
    "Authorization",
    "CallbackDict",
    "CombinedMultiDict",
    "ContentRange",
    "ETags",
    "FileStorage",
    "Headers",
    "ImmutableMultiDict",
    "MIMEAccept",
    "MultiDict",
    "Range",
    "RequestCacheControl",
    "ResponseCacheControl",
    "WWWAuthenticate",
]
