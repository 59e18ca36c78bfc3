"""OCR: turn an accepted upload into text per page, with a confidence for every word.

A PDF page with a real text layer is read directly (no OCR); other pages and images are
brought down to what tesseract needs and cleaned up in bounded memory (``preprocess.py``), one
page at a time, and read by tesseract (``tesseract.py``: the library loaded per thread, or the
CLI) within a per-page time budget.

Orientation detection (tesseract --psm 0) costs about 0.6 s a page, so it only runs when the
first pass reads little or reads it with low confidence, which is what a sideways or
upside-down page produces; when OSD refuses (too little text) or is unsure, the other three
orientations are read and the best reading kept. A document in which no page gives readable
text fails with ``error.no_text`` rather than ending "processed" with nothing in it.
Every word keeps where it is on its page (``wordboxes.py``), so a fact can be shown there.
Plain functions on plain data: no database, HTTP or Reflex here.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from medupload.pipeline import tesseract
from medupload.pipeline.intake import PDFIUM_LOCK, decode_heic, image_page_count, open_image
from medupload.pipeline.preprocess import (
    OCR_MAX_PIXELS,
    heic_page,
    ink_fraction,
    page_from_frame,
    preprocess,
    target_size,
)
from medupload.pipeline.wordboxes import Box, TextLayer, WordBox, text_layer, turn_back, union

PAGE_SEPARATOR = "\n\f\n"
RENDER_DPI = 300
#: A PDF page with at least this many non-space characters counts as having a text layer.
MIN_TEXT_LAYER_CHARS = 20
#: First-pass results below these run orientation detection (a rotated page reads as noise).
OSD_BELOW_CONFIDENCE = 0.70
OSD_BELOW_WORDS = 5
#: tesseract's "Orientation confidence" needed before we turn a page.
OSD_MIN_CONFIDENCE = 2.0
#: tesseract's page segmentation: 6, "a single uniform block of text", read by lines across the
#: page. Measured on our fixtures (bench/ocr_modes.py, bench/README.md): the only mode that keeps
#: every row of a two-column medication list together (drug with its sig) at any column gap,
#: and as good or better than 3, 4 and 11 on scans, skewed/noisy and shadowed photos.
PSM = "6"
#: A word counts as read when tesseract is at least this sure of it and it has 2+ letters/digits.
CONFIDENT_WORD = 0.60
#: A document has readable text when, over all its pages, at least this many words are confident
#: and they are at least this share of all the words read. A blank page gives none; a photo of a
#: grainy table top read at --psm 6 gives 175-680 "words" of which 1-2 % look confident.
MIN_READABLE_WORDS = 3
MIN_CONFIDENT_SHARE = 0.25
#: Only a reading with at most this many words is tried in other orientations when OSD cannot
#: tell: a sparse page. Dense turned pages are OSD's job; hundreds of weak words are noise.
MAX_WORDS_TO_TURN = 40
#: A binarised page with less ink than this (share of pixels) is empty: tesseract is not run.
MIN_INK = 0.00002
#: A page whose darkest and lightest pixels differ by less than this is one flat shade.
MIN_CONTRAST = 8


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
    #: Boxes of the words that have one (OCR'd pages; PDF text layers when pdfium gives them).
    word_boxes: list[WordBox] = field(default_factory=list)

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
    #: One box per word (shares of the page), or empty when the source gives none.
    boxes: list[Box] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return sum(c for _, c, _ in self.words) / len(self.words) if self.words else 0.0

    @property
    def confident(self) -> int:
        return sum(_is_confident(word, confidence) for word, confidence, _ in self.words)

    @property
    def score(self) -> tuple[int, float]:
        """How good a reading is, to choose between orientations: confident words, then mean."""
        return self.confident, self.mean


def _is_confident(word: str, confidence: float) -> bool:
    return confidence >= CONFIDENT_WORD and sum(ch.isalnum() for ch in word) >= 2


# --------------------------------------------------------------------------- entry point


def read_document(
    path: Path,
    kind: str,
    *,
    on_page: Callable[[int, int], None] | None = None,
    page_timeout: float = 30.0,
) -> OcrResult:
    """Read every page of an upload that intake accepted. ``on_page(n, total)`` is called as
    page n (1-based) starts. Raises OcrError(error.ocr_timeout | error.ocr_failed | error.unreadable
    | error.no_text). Pages are decoded and read one at a time: at most one page image (plus the
    next being decoded) is held, whatever the document's page count.
    """
    pages: list[tuple[list[tuple[str, float, tuple[int, int, int]]], str]] = []
    boxes: list[list[Box]] = []
    source = _pdf_pages(path) if kind == "pdf" else _image_pages(path, kind)
    # closing(): a failed page releases the PDF/image now, not whenever the generator is collected.
    with contextlib.closing(source):
        for number, total, item in source:
            if on_page is not None:
                on_page(number, total)
            if isinstance(item, TextLayer):
                read = _text_layer_words(item.text, item.char_boxes)
                pages.append((read.words, "text_layer"))
            else:
                read = _ocr_page(item, page_timeout)
                pages.append((read.words, "ocr"))
            boxes.append(read.boxes)
            del item  # the page image goes before the next one is decoded
    if not _readable([word for words, _ in pages for word in words]):
        raise OcrError("error.no_text")
    return _assemble(pages, boxes)


def _readable(words: list[tuple[str, float, tuple[int, int, int]]]) -> bool:
    """Enough confident words, and they are not a few lucky hits among noise read as letters."""
    confident = sum(_is_confident(word, confidence) for word, confidence, _ in words)
    return confident >= MIN_READABLE_WORDS and confident >= MIN_CONFIDENT_SHARE * len(words)


def _assemble(pages: list[tuple[list[tuple[str, float, tuple[int, int, int]]], str]],
              boxes: list[list[Box]] | None = None) -> OcrResult:
    """Join the words into one text, recording each word's character span and confidence, and
    its box on the page where ``boxes`` (per page, one per word, or empty) gives one."""
    parts: list[str] = []
    length = 0
    spans: list[tuple[int, int, float]] = []
    word_boxes: list[WordBox] = []
    page_texts: list[PageText] = []
    for index, (words, method) in enumerate(pages):
        page_boxes = boxes[index] if boxes and len(boxes[index]) == len(words) else None
        if index:
            parts.append(PAGE_SEPARATOR)
            length += len(PAGE_SEPARATOR)
        page_start = length
        previous: tuple[int, int, int] | None = None
        for position, (word, confidence, key) in enumerate(words):
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
            if page_boxes is not None:
                word_boxes.append(WordBox(length, length + len(word), index + 1, *page_boxes[position]))
            length += len(word)
            previous = key
        page_text = "".join(parts)[page_start:] if words else ""
        mean = sum(c for _, c, _ in words) / len(words) if words else 0.0
        page_texts.append(PageText(number=index + 1, text=page_text, confidence=mean, method=method))
    text = "".join(parts)
    overall = sum(c for _, _, c in spans) / len(spans) if spans else 0.0
    return OcrResult(pages=page_texts, text=text, word_confidences=spans, mean_confidence=overall,
                     word_boxes=word_boxes)


def _text_layer_words(text: str, char_boxes: list[Box | None] | None = None) -> _Words:
    """Words of a PDF text layer, confidence 1.0, keeping its lines and blank-line paragraphs;
    with ``char_boxes`` (one per character of ``text``) each word's box is their union."""
    words: list[tuple[str, float, tuple[int, int, int]]] = []
    boxes: list[Box] = []
    paragraph = 0
    offset = 0
    for line_number, line in enumerate(text.split("\n")):
        tokens = list(re.finditer(r"\S+", line))
        if not tokens:
            paragraph += 1
        for token in tokens:
            words.append((token.group(), 1.0, (0, paragraph, line_number)))
            if char_boxes is not None:
                found = [b for b in char_boxes[offset + token.start():offset + token.end()] if b is not None]
                if found:
                    boxes.append(union(found))
                else:
                    char_boxes = None  # a word without a box: the page gets none rather than gaps
        offset += len(line) + 1
    return _Words(words, boxes if char_boxes is not None else [])


# --------------------------------------------------------------------------- page sources


def _pdf_pages(path: Path) -> Iterator[tuple[int, int, TextLayer | Image.Image]]:
    """Each page as its text layer when it has one, else as a 300 dpi greyscale render.

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
                    width, height = page.get_size()
                    layer = text_layer(textpage, width, height)
                    textpage.close()
                    item: TextLayer | Image.Image
                    if sum(not ch.isspace() for ch in layer.text) >= MIN_TEXT_LAYER_CHARS:
                        item = layer
                    else:
                        scale = RENDER_DPI / 72
                        # A poster-sized page (PDF allows 200 x 200 in) renders at what tesseract
                        # needs, not at 300 dpi: the bitmap never exceeds OCR_MAX_PIXELS.
                        if width * height * scale * scale > OCR_MAX_PIXELS:
                            # pdfium rounds the bitmap size up: aim just under the capped size.
                            fit_width, fit_height = target_size(width * scale, height * scale)
                            scale = min(fit_width / width, fit_height / height) * (1 - 1e-9)
                        bitmap = page.render(scale=scale, grayscale=True)
                        item = bitmap.to_pil().convert("L")
                        bitmap.close()
                finally:
                    page.close()
            yield index + 1, total, item
            del item
    except pdfium.PdfiumError as exc:
        raise OcrError("error.unreadable") from exc
    finally:
        with PDFIUM_LOCK:
            document.close()


def _image_pages(path: Path, kind: str) -> Iterator[tuple[int, int, TextLayer | Image.Image]]:
    """Each image page (TIFF frames; the first image of anything else), upright per EXIF, at
    most OCR_MAX_PIXELS. The file is reopened for each frame and closed before the page is
    yielded, so the full-size decode is freed before the page is read."""
    try:
        with open_image(path, kind) as image:
            total = image_page_count(image, kind)
        for index in range(total):
            if kind == "heic":
                page = heic_page(decode_heic(path))
            else:
                with open_image(path, kind) as image:
                    image.seek(index)
                    page = page_from_frame(image)
            yield index + 1, total, page
            del page
    except OcrError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, RuntimeError, Image.DecompressionBombError) as exc:
        raise OcrError("error.unreadable") from exc


# --------------------------------------------------------------------------- one page


def _ocr_page(image: Image.Image, page_timeout: float) -> _Words:
    """Preprocess and read (--psm 6). A reading that looks like a turned page (few words, low
    confidence) is checked: OSD's orientation if it is sure, and for a sparse page the other
    three orientations, keeping the best reading. An empty page is not sent to tesseract."""
    deadline = time.monotonic() + page_timeout
    low, high = image.convert("L").getextrema()
    if high - low < MIN_CONTRAST:
        return _Words([])  # one flat shade: nothing on it to clean up or read
    binary = preprocess(image)
    if ink_fraction(binary) < MIN_INK:
        return _Words([])
    engine = tesseract.engine()
    best = _read(engine, binary, deadline)
    if _looks_upright(best):
        return best
    rotate = _detect_rotation(engine, binary, deadline)
    turns = [rotate] if rotate else []
    if len(best.words) <= MAX_WORDS_TO_TURN:
        turns += [90, 270, 180]
    tried = {0}
    for turn in turns:
        if turn in tried:
            continue
        tried.add(turn)
        # Degrees clockwise; PIL rotates counter-clockwise.
        reading = _read(engine, binary.rotate(-turn, expand=True), deadline)
        reading = _Words(reading.words, turn_back(reading.boxes, turn))
        if reading.score > best.score:
            best = reading
        if _looks_upright(best):
            break  # a clear reading: the remaining orientations cannot beat it
    return best


def _looks_upright(reading: _Words) -> bool:
    return len(reading.words) >= OSD_BELOW_WORDS and reading.mean >= OSD_BELOW_CONFIDENCE


def _read(engine: tesseract.Engine, binary: Image.Image, deadline: float) -> _Words:
    try:
        return _parse_tsv(engine.read_tsv(binary, PSM, deadline), binary.size)
    except tesseract.EngineTimeout:
        raise OcrError("error.ocr_timeout") from None
    except tesseract.EngineFailed:
        raise OcrError("error.ocr_failed") from None


def _detect_rotation(engine: tesseract.Engine, binary: Image.Image, deadline: float) -> int:
    """Clockwise degrees to turn the page upright, 0 when unsure (too little text, low confidence)."""
    try:
        found = engine.orientation(binary, deadline)
    except tesseract.EngineTimeout:
        raise OcrError("error.ocr_timeout") from None
    except tesseract.EngineFailed:
        raise OcrError("error.ocr_failed") from None
    if found is None or found[1] < OSD_MIN_CONFIDENCE:
        return 0  # OSD refuses pages with too few characters, or is unsure
    return found[0]


def _parse_tsv(raw: str, size: tuple[int, int] | None = None) -> _Words:
    """Words with confidence 0..1 from tesseract's TSV (level 5 rows; -1 marks non-words), and
    with the image's ``size`` each word's box as shares of it (TSV columns left, top, width, height)."""
    words: list[tuple[str, float, tuple[int, int, int]]] = []
    boxes: list[Box] = []
    for line in raw.splitlines():
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
        if size is not None:
            width, height = size
            boxes.append((int(fields[6]) / width, int(fields[7]) / height,
                          int(fields[8]) / width, int(fields[9]) / height))
    return _Words(words, boxes)
