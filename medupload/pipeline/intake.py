"""Intake: decide whether an upload can be read, before anything is stored or processed.

Nothing unreadable gets in, nothing readable gets lost. The type comes from the file's magic
bytes only (never the name or the declared content type); every refusal is an ``IntakeError``
whose ``code`` points into the user-safe message catalogue, never exception text.
Plain functions on plain data: no database, HTTP or Reflex here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image

MAX_PAGES = 50
MAX_PIXELS = 60_000_000
#: The most memory one decoded image frame may take, as Pillow holds it (``_BYTES_PER_PIXEL``):
#: 60 MP in 1-bit, grey or palette (a 600 dpi legal scan is 43 MP), 40 MP in colour or 32-bit
#: (a 600 dpi colour letter scan is 34 MP). JPEGs are exempt (decoded already scaled down), HEIC
#: counts libheif's 3-byte RGB (decoded straight to greyscale: a 48 MP iPhone photo passes).
MAX_DECODED_BYTES = 160_000_000
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
#: pdfium is not thread-safe and the runner works on documents in threads: every pdfium call
#: in this process (here and in ocr.py) holds this lock.
PDFIUM_LOCK = threading.RLock()

CONTENT_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "tiff": "image/tiff",
    "heic": "image/heic",
}

# ISO-BMFF brands of HEIF stills (iPhones write "heic"; "mif1"/"msf1" are generic HEIF and
# count only when a HEVC brand is among the compatible ones: AVIF also uses "mif1").
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_GENERIC = {b"mif1", b"msf1"}


class IntakeError(Exception):
    """A refused upload: ``code`` is a catalogue code, ``numbers`` fill its message."""

    def __init__(self, code: str, **numbers: int) -> None:
        super().__init__(code)
        self.code = code
        self.numbers: dict[str, int] = dict(numbers)

    @property
    def message(self) -> str:
        from medupload.progress.stages import message

        return message(self.code, **self.numbers)


@dataclass(frozen=True)
class Inspection:
    kind: str
    content_type: str
    page_count: int


def sniff_kind(head: bytes) -> str | None:
    """The file kind from its first bytes (32 suffice), or None when it is not one we read."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic and BigTIFF
        return "tiff"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        box_size = int.from_bytes(head[:4], "big")
        major = head[8:12]
        compatible = {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
        if major in _HEIC_BRANDS or (major in _HEIF_GENERIC and compatible & _HEIC_BRANDS):
            return "heic"
    return None


def inspect(path: Path) -> Inspection:
    """Check a stored upload: kind, page count and limits. Raises IntakeError when refused.

    Pixel counts are read from headers before any pixel is decoded (decompression bombs);
    images are then decoded once so a truncated file is refused now rather than failing later.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(32)
    except OSError as exc:
        raise IntakeError("error.unreadable") from exc
    if not head:
        raise IntakeError("error.unreadable")
    kind = sniff_kind(head)
    if kind is None:
        raise IntakeError("error.unsupported_type")
    pages = _inspect_pdf(path) if kind == "pdf" else _inspect_image(path, kind)
    return Inspection(kind=kind, content_type=CONTENT_TYPES[kind], page_count=pages)


def _inspect_pdf(path: Path) -> int:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(path)
        except pdfium.PdfiumError as exc:
            if getattr(exc, "err_code", None) in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
                raise IntakeError("error.pdf_encrypted") from exc
            raise IntakeError("error.unreadable") from exc
        try:
            count = len(document)
            if count == 0:
                raise IntakeError("error.unreadable")
            if count > MAX_PAGES:
                raise IntakeError("error.too_many_pages", limit=MAX_PAGES)
            # Loading each page (cheap: no rendering) catches a broken page tree now.
            for index in range(count):
                document[index].close()
            return count
        except pdfium.PdfiumError as exc:
            raise IntakeError("error.unreadable") from exc
        finally:
            document.close()


def register_heif() -> None:
    """Let Pillow open HEIC (idempotent)."""
    import pillow_heif

    pillow_heif.register_heif_opener()


@contextlib.contextmanager
def open_image(path: Path, kind: str) -> Iterator[Image.Image]:
    """Open an uploaded image (HEIC too), our pixel limit deciding rather than Pillow's."""
    if kind == "heic":
        register_heif()
    with warnings.catch_warnings():
        # Pillow warns (and errors at 2x) around 89 MP; our own, lower limit decides.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            yield image


def image_page_count(image: Image.Image, kind: str) -> int:
    """Only TIFF pages count as pages (other frames are thumbnails or bursts; we read the first)."""
    return getattr(image, "n_frames", 1) if kind == "tiff" else 1


def _inspect_image(path: Path, kind: str) -> int:
    try:
        with open_image(path, kind) as image:
            frames = image_page_count(image, kind)
            if frames > MAX_PAGES:
                raise IntakeError("error.too_many_pages", limit=MAX_PAGES)
            # Sizes come from the headers: a decompression bomb is refused before decoding.
            for index in range(frames):
                image.seek(index)
                width, height = image.size
                pixels = width * height
                if pixels > MAX_PIXELS or pixels * _decoded_bytes(image, kind) > MAX_DECODED_BYTES:
                    raise IntakeError("error.image_too_large")
                if width == 0 or height == 0:
                    raise IntakeError("error.unreadable")
            if kind == "heic":
                decode_heic(path)
                return frames
            for index in range(frames):
                image.seek(index)
                if kind == "jpeg":
                    image.draft("L", (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
            return frames
    except IntakeError:
        raise
    except Image.DecompressionBombError as exc:
        raise IntakeError("error.image_too_large") from exc
    except (OSError, ValueError, SyntaxError, EOFError, RuntimeError) as exc:
        # Pillow signals truncated/corrupt data with any of these.
        raise IntakeError("error.unreadable") from exc


def _decoded_bytes(image: Image.Image, kind: str) -> int:
    """Bytes a pixel of this frame takes once decoded the way intake and OCR decode it."""
    if kind == "jpeg":
        return 0
    if kind == "heic":
        return 4 if image.mode == "RGBA" else 3
    return _BYTES_PER_PIXEL.get(image.mode, 4)


def decode_heic(path: Path) -> Any:
    """The primary HEIC image decoded by libheif (8-bit RGB, 3 bytes a pixel, rotations and flips
    applied) without Pillow's 4-byte copy; dropping it frees the pixels. Raises what libheif raises."""
    import pillow_heif

    heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=True)
    heif.data  # noqa: B018  (decodes now: a truncated file fails here)
    return heif


class SizeLimitedSink:
    """Receives an upload chunk by chunk into a temp file, refusing it once it passes max_bytes.

    Nothing is held in memory beyond one chunk; the hash is computed on the way. The temp file
    lives in ``directory`` so the caller's final rename is atomic (same filesystem).
    """

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=self.directory)
        self.path: Path | None = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        """Append a chunk; raises IntakeError(error.too_large) and deletes the file past the limit."""
        if self._file is None:
            raise ValueError("sink is closed")
        self.size += len(chunk)
        if self.size > self.max_bytes:
            self.abort()
            raise IntakeError("error.too_large", limit_mb=max(1, self.max_bytes // (1024 * 1024)))
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self) -> tuple[Path, str, int]:
        """Flush and fsync; returns (temp_path, sha256 hex, size). The caller renames or removes it."""
        if self._file is None or self.path is None:
            raise ValueError("sink is closed")
        handle, self._file = self._file, None
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        return self.path, self._hash.hexdigest(), self.size

    def abort(self) -> None:
        """Close and delete the temp file (safe to call more than once, or after finish)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.path = None

    def __enter__(self) -> SizeLimitedSink:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        # Leaving the block by an exception discards the partial upload.
        if exc_type is not None:
            self.abort()
