"""Page images of a kept upload, for people to look at beside what the pipeline found.

Rendered on demand (pypdfium2 for PDFs, Pillow for images, EXIF orientation applied), scaled to
``PAGE_WIDTH`` pixels wide at most, and cached on disk under ``STORAGE_DIR/pages/`` by the file's
sha256 — a content address, so the cache holds no filename or other PHI in its paths and never
goes stale. Writes are atomic (temp file, rename).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

from PIL import Image, ImageOps

from medupload.pipeline import intake, storage

#: Wide enough to read a lab value on a laptop, small enough for a phone (about 100-300 KB).
PAGE_WIDTH = 1200


class PageNotFound(Exception):
    """No such page (past the last one), or the kept file is gone or unreadable."""


def cache_path(sha256: str, page: int, width: int = PAGE_WIDTH) -> Path:
    return storage.storage_root() / "pages" / sha256[:2] / f"{sha256}-{page}-w{width}.png"


def page_png(sha256: str, content_type: str, page: int, width: int = PAGE_WIDTH) -> bytes:
    """PNG bytes of page ``page`` (from 1) of the kept file ``sha256``; ``PageNotFound`` if none."""
    if page < 1:
        raise PageNotFound
    cached = cache_path(sha256, page, width)
    with contextlib.suppress(FileNotFoundError):
        return cached.read_bytes()
    source = storage.path_for(sha256)
    if not source.exists():
        raise PageNotFound
    image = _render_pdf(source, page, width) if content_type == "application/pdf" else \
        _render_image(source, _image_kind(content_type), page)
    data = _png(_fit(image, width))
    _write_atomic(cached, data)
    return data


def _image_kind(content_type: str) -> str:
    kinds = {v: k for k, v in intake.CONTENT_TYPES.items()}
    return kinds.get(content_type, "png")


def _render_pdf(path: Path, page: int, width: int) -> Image.Image:
    import pypdfium2 as pdfium

    with intake.PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(path)
        except pdfium.PdfiumError:
            raise PageNotFound from None
        try:
            if page > len(document):
                raise PageNotFound
            pdf_page = document[page - 1]
            try:
                points_wide = pdf_page.get_width() or 612
                scale = min(4.0, width / points_wide)
                return pdf_page.render(scale=scale).to_pil().convert("RGB")
            finally:
                pdf_page.close()
        finally:
            document.close()


def _render_image(path: Path, kind: str, page: int) -> Image.Image:
    try:
        with intake.open_image(path, kind) as image:
            if page > intake.image_page_count(image, kind):
                raise PageNotFound
            image.seek(page - 1)
            if image.width * image.height > intake.MAX_PIXELS:
                raise PageNotFound
            upright = ImageOps.exif_transpose(image)
            return upright.convert("RGB") if upright.mode not in ("RGB", "L") else upright.copy()
    except (OSError, ValueError, EOFError):
        raise PageNotFound from None


def _fit(image: Image.Image, width: int) -> Image.Image:
    if image.width <= width:
        return image
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
