"""OCR: turn an accepted upload into text per page, with a confidence for every word.

A PDF page with a real text layer is read directly (no OCR); other pages and images are
cleaned up (EXIF orientation, median filter, autocontrast, Otsu threshold) and read by
tesseract, one subprocess per pass with a per-page time budget and ``OMP_THREAD_LIMIT=1``
(tesseract's OpenMP threads only slow it down on a shared machine).

Orientation detection (tesseract --psm 0) costs about 0.6 s a page, so it only runs when the
first pass reads little or reads it with low confidence, which is what a sideways or
upside-down page produces. Plain functions on plain data: no database, HTTP or Reflex here.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from medupload.pipeline.intake import MAX_PIXELS, PDFIUM_LOCK, image_page_count, open_image

PAGE_SEPARATOR = "\n\f\n"
RENDER_DPI = 300
#: A PDF page with at least this many non-space characters counts as having a text layer.
MIN_TEXT_LAYER_CHARS = 20
#: First-pass results below these run orientation detection (a rotated page reads as noise).
OSD_BELOW_CONFIDENCE = 0.70
OSD_BELOW_WORDS = 5
#: tesseract's "Orientation confidence" needed before we turn a page.
OSD_MIN_CONFIDENCE = 2.0
#: Images whose longer side is shorter than this are upscaled: tesseract wants tall letters.
MIN_LONG_SIDE = 2000

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff]")


@dataclass(frozen=True)
class PageText:
    number: int
    text: str
    confidence: float
    method: str  # "text_layer" | "ocr"


@dataclass(frozen=True)
class OcrResult:
    pages: list[PageText]
    text: str
    word_confidences: list[tuple[int, int, float]]
    mean_confidence: float

    @property
    def page_count(self) -> int:
        return len(self.pages)


class OcrError(Exception):
    """A document that could not be read; ``code`` is a catalogue code (never shown raw)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class _Words:
    """One page's words in reading order: (text, confidence, line key) with line key
    (block, paragraph, line) so the page text keeps tesseract's line and paragraph breaks."""

    words: list[tuple[str, float, tuple[int, int, int]]]

    @property
    def mean(self) -> float:
        return sum(c for _, c, _ in self.words) / len(self.words) if self.words else 0.0


# --------------------------------------------------------------------------- entry point


def read_document(
    path: Path,
    kind: str,
    *,
    on_page: Callable[[int, int], None] | None = None,
    page_timeout: float = 30.0,
) -> OcrResult:
    """Read every page of an upload that intake accepted. ``on_page(n, total)`` is called as
    page n (1-based) starts. Raises OcrError(error.ocr_timeout | error.ocr_failed | error.unreadable).
    """
    pages: list[tuple[list[tuple[str, float, tuple[int, int, int]]], str]] = []
    source = _pdf_pages(path) if kind == "pdf" else _image_pages(path, kind)
    # closing(): a failed page releases the PDF/image now, not whenever the generator is collected.
    with contextlib.closing(source):
        for number, total, item in source:
            if on_page is not None:
                on_page(number, total)
            if isinstance(item, str):
                pages.append((_text_layer_words(item), "text_layer"))
            else:
                pages.append((_ocr_page(item, page_timeout).words, "ocr"))
    return _assemble(pages)


def _assemble(pages: list[tuple[list[tuple[str, float, tuple[int, int, int]]], str]]) -> OcrResult:
    """Join the words into one text, recording each word's character span and confidence."""
    parts: list[str] = []
    length = 0
    spans: list[tuple[int, int, float]] = []
    page_texts: list[PageText] = []
    for index, (words, method) in enumerate(pages):
        if index:
            parts.append(PAGE_SEPARATOR)
            length += len(PAGE_SEPARATOR)
        page_start = length
        previous: tuple[int, int, int] | None = None
        for word, confidence, key in words:
            if previous is not None:
                if key[:2] != previous[:2]:
                    gap = "\n\n"
                elif key != previous:
                    gap = "\n"
                else:
                    gap = " "
                parts.append(gap)
                length += len(gap)
            parts.append(word)
            spans.append((length, length + len(word), confidence))
            length += len(word)
            previous = key
        page_text = "".join(parts)[page_start:] if words else ""
        mean = sum(c for _, c, _ in words) / len(words) if words else 0.0
        page_texts.append(PageText(number=index + 1, text=page_text, confidence=mean, method=method))
    text = "".join(parts)
    overall = sum(c for _, _, c in spans) / len(spans) if spans else 0.0
    return OcrResult(pages=page_texts, text=text, word_confidences=spans, mean_confidence=overall)


def _text_layer_words(text: str) -> list[tuple[str, float, tuple[int, int, int]]]:
    """Words of a PDF text layer, confidence 1.0, keeping its lines and blank-line paragraphs."""
    words: list[tuple[str, float, tuple[int, int, int]]] = []
    paragraph = 0
    for line_number, line in enumerate(text.split("\n")):
        tokens = line.split()
        if not tokens:
            paragraph += 1
            continue
        words.extend((token, 1.0, (0, paragraph, line_number)) for token in tokens)
    return words


# --------------------------------------------------------------------------- page sources


def _clean_text_layer(raw: str) -> str:
    return _CONTROL.sub("", raw.replace("\r\n", "\n").replace("\r", "\n"))


def _pdf_pages(path: Path) -> Iterator[tuple[int, int, str | Image.Image]]:
    """Each page as its text layer (a str) when it has one, else as a 300 dpi greyscale render.

    pdfium is not thread-safe, so every call happens under PDFIUM_LOCK; the lock is released
    while tesseract runs (between yields) so other documents' pages can be rendered meanwhile.
    """
    import pypdfium2 as pdfium

    try:
        with PDFIUM_LOCK:
            document = pdfium.PdfDocument(path)
            total = len(document)
    except pdfium.PdfiumError as exc:
        raise OcrError("error.unreadable") from exc
    try:
        for index in range(total):
            with PDFIUM_LOCK:
                page = document[index]
                try:
                    textpage = page.get_textpage()
                    text = _clean_text_layer(textpage.get_text_range())
                    textpage.close()
                    item: str | Image.Image
                    if sum(not ch.isspace() for ch in text) >= MIN_TEXT_LAYER_CHARS:
                        item = text
                    else:
                        width, height = page.get_size()
                        scale = RENDER_DPI / 72
                        # A poster-sized page would render past the pixel limit: scale it down.
                        pixels = width * height * scale * scale
                        if pixels > MAX_PIXELS:
                            scale *= (MAX_PIXELS / pixels) ** 0.5
                        bitmap = page.render(scale=scale, grayscale=True)
                        item = bitmap.to_pil().convert("L")
                        bitmap.close()
                finally:
                    page.close()
            yield index + 1, total, item
    except pdfium.PdfiumError as exc:
        raise OcrError("error.unreadable") from exc
    finally:
        with PDFIUM_LOCK:
            document.close()


def _image_pages(path: Path, kind: str) -> Iterator[tuple[int, int, str | Image.Image]]:
    """Each image page (TIFF frames; the first image of anything else), upright per EXIF."""
    try:
        with open_image(path, kind) as image:
            total = image_page_count(image, kind)
            for index in range(total):
                image.seek(index)
                page = _to_grey(ImageOps.exif_transpose(image))
                yield index + 1, total, page
    except OcrError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise OcrError("error.unreadable") from exc


def _to_grey(image: Image.Image) -> Image.Image:
    """8-bit greyscale; transparent areas become white paper, 16-bit scans keep their range."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("L")
    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.full_like(values, 255.0)
        return Image.fromarray(scaled.astype(np.uint8), "L")
    return image.convert("L")


# --------------------------------------------------------------------------- one page


def preprocess(image: Image.Image) -> Image.Image:
    """Median filter (speckle), even out lighting, autocontrast (dim photos), Otsu threshold -> 1-bit page."""
    grey = image.convert("L")
    longest = max(grey.size)
    if longest < MIN_LONG_SIDE:
        factor = min(MIN_LONG_SIDE / longest, (MAX_PIXELS / (grey.width * grey.height)) ** 0.5)
        if factor > 1.05:
            size = (round(grey.width * factor), round(grey.height * factor))
            grey = grey.resize(size, Image.Resampling.LANCZOS)
    # No clipping cutoff: on a sparse page the darkest 1% is paper, and stretching paper grain
    # to full contrast turns it into speckle. The median filter already removed outliers.
    grey = ImageOps.autocontrast(_flatten_lighting(median3x3(grey)))
    pixels = np.asarray(grey)
    return Image.fromarray(pixels > _otsu(pixels))


# Paeth's 19 compare-exchanges that leave the median of 9 values in slot 4.
_MEDIAN9_NETWORK = (
    (1, 2),
    (4, 5),
    (7, 8),
    (0, 1),
    (3, 4),
    (6, 7),
    (1, 2),
    (4, 5),
    (7, 8),
    (0, 3),
    (5, 8),
    (4, 7),
    (3, 6),
    (1, 4),
    (2, 5),
    (4, 7),
    (4, 2),
    (6, 4),
    (4, 2),
)


def median3x3(grey: Image.Image) -> Image.Image:
    """The same result as Pillow's ``MedianFilter(3)`` (edges replicated), 5-10x faster: a
    sorting network over whole-image numpy arrays instead of a per-pixel sort. Speckle removal
    was the largest cost of a page after tesseract itself."""
    pixels = np.asarray(grey)
    height, width = pixels.shape
    padded = np.pad(pixels, 1, mode="edge")
    values = [padded[row : row + height, col : col + width] for row in range(3) for col in range(3)]
    for low, high in _MEDIAN9_NETWORK:
        a, b = values[low], values[high]
        values[low], values[high] = np.minimum(a, b), np.maximum(a, b)
    return Image.fromarray(values[4], "L")


def _flatten_lighting(grey: Image.Image) -> Image.Image:
    """Divide by the paper's brightness so a phone photo's shadow or lamp gradient does not make
    one global threshold swallow the dark side of the page. The paper is estimated on a 1/16
    image with a max filter wider than a line of text; on an evenly lit scan this is a no-op."""
    small = grey.reduce(16)
    paper = small.filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.BoxBlur(2))
    paper = paper.resize(grey.size, Image.Resampling.BILINEAR)
    values = np.asarray(grey, dtype=np.float32)
    background = np.maximum(np.asarray(paper, dtype=np.float32), 1.0)
    return Image.fromarray(np.clip(values * (255.0 / background), 0, 255).astype(np.uint8), "L")


def _otsu(pixels: np.ndarray) -> int:
    """The Otsu threshold of an 8-bit image (maximises between-class variance)."""
    histogram = np.bincount(pixels.ravel(), minlength=256).astype(np.float64)
    total = histogram.sum()
    weights = np.cumsum(histogram)
    means = np.cumsum(histogram * np.arange(256))
    background = weights
    foreground = total - weights
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = (means[-1] * background - means * total) ** 2 / (background * foreground)
    variance = np.nan_to_num(variance)
    return int(np.argmax(variance))


def _ocr_page(image: Image.Image, page_timeout: float) -> _Words:
    """Preprocess, read (--psm 4), and only if that looks like a turned page: OSD, turn, reread."""
    deadline = time.monotonic() + page_timeout
    binary = preprocess(image)
    encoded = _encode(binary)
    first = _parse_tsv(_tesseract(encoded, ["-l", "eng", "--psm", "4", "tsv"], deadline))
    if len(first.words) >= OSD_BELOW_WORDS and first.mean >= OSD_BELOW_CONFIDENCE:
        return first
    rotate = _detect_rotation(encoded, deadline)
    if not rotate:
        return first
    # tesseract's "Rotate: n" is clockwise; PIL rotates counter-clockwise.
    turned = binary.rotate(-rotate, expand=True)
    second = _parse_tsv(_tesseract(_encode(turned), ["-l", "eng", "--psm", "4", "tsv"], deadline))
    return second if second.mean * len(second.words) > first.mean * len(first.words) else first


def _detect_rotation(encoded: bytes, deadline: float) -> int:
    """Clockwise degrees to turn the page upright, 0 when unsure (too little text, low confidence)."""
    try:
        output = _tesseract(encoded, ["-l", "osd", "--psm", "0"], deadline).decode("utf-8", "replace")
    except _TesseractFailed:
        return 0  # OSD refuses pages with too few characters: keep the first reading
    rotate = re.search(r"Rotate:\s*(\d+)", output)
    confidence = re.search(r"Orientation confidence:\s*([\d.]+)", output)
    if not rotate or not confidence or float(confidence.group(1)) < OSD_MIN_CONFIDENCE:
        return 0
    return int(rotate.group(1)) % 360


def _encode(binary: Image.Image) -> bytes:
    buffer = io.BytesIO()
    binary.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class _TesseractFailed(Exception):
    pass


def _tesseract(image: bytes, args: list[str], deadline: float) -> bytes:
    """Run tesseract on an encoded image from stdin. Called directly rather than through
    pytesseract so the child gets OMP_THREAD_LIMIT=1 without touching this process's
    environment (the runner runs pages in threads), and is killed at the deadline."""
    binary = shutil.which("tesseract")
    if binary is None:
        raise OcrError("error.ocr_failed")
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise OcrError("error.ocr_timeout")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            [binary, "stdin", "stdout", *args],
            input=image,
            capture_output=True,
            env=env,
            timeout=remaining,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise OcrError("error.ocr_timeout") from exc
    except OSError as exc:
        raise OcrError("error.ocr_failed") from exc
    if done.returncode != 0:
        if "--psm" in args and args[args.index("--psm") + 1] == "0":
            raise _TesseractFailed
        raise OcrError("error.ocr_failed")
    return done.stdout


def _parse_tsv(raw: bytes) -> _Words:
    """Words with confidence 0..1 from tesseract's TSV (level 5 rows; -1 marks non-words)."""
    words: list[tuple[str, float, tuple[int, int, int]]] = []
    for line in raw.decode("utf-8", "replace").splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) < 12 or fields[0] != "5":
            continue
        text = fields[11].strip()
        if not text:
            continue
        try:
            confidence = float(fields[10])
        except ValueError:
            continue
        if confidence < 0:
            continue
        key = (int(fields[2]), int(fields[3]), int(fields[4]))
        words.append((text, min(1.0, confidence / 100.0), key))
    return _Words(words)
