"""Where words are on a page: boxes as shares 0..1 of the page's width and height (so any
rendering of the page can place them), from tesseract's TSV or a PDF text layer (pdfium's
character boxes), and the place of a span of the document text (a fact's evidence).
Plain functions on plain data."""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff]")


class WordBox(NamedTuple):
    """Where a word of ``OcrResult.text`` (characters start..end) is: page number (1-based) and
    its box as shares 0..1 of the page's width and height, so any rendering of the page can
    place it."""

    start: int
    end: int
    page: int
    x: float
    y: float
    w: float
    h: float


#: A box as shares of the page: (x, y, w, h).
Box = tuple[float, float, float, float]


def locate(word_boxes: list[WordBox], start: int, end: int) -> tuple[int, Box] | None:
    """Where characters start..end of the text are: the page and the union of the boxes of the
    words they overlap. Text across pages gives the first page's part; no box, None."""
    hits = [box for box in word_boxes if box.start < end and box.end > start]
    if not hits:
        return None
    page = hits[0].page
    x, y, w, h = union([(box.x, box.y, box.w, box.h) for box in hits if box.page == page])
    return page, (round(x, 5), round(y, 5), round(w, 5), round(h, 5))



def turn_back(boxes: list[Box], turn: int) -> list[Box]:
    """Boxes read on the page turned ``turn`` degrees clockwise (90, 180, 270), placed on the
    page as it is."""
    def back(box: Box) -> Box:
        x, y, w, h = box
        if turn == 90:
            return y, 1 - x - w, h, w
        if turn == 180:
            return 1 - x - w, 1 - y - h, w, h
        return 1 - y - h, x, h, w  # 270
    return [back(box) for box in boxes]


def union(boxes: list[Box]) -> Box:
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, bottom = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    return left, top, right - left, bottom - top


@dataclass(frozen=True)
class TextLayer:
    """A PDF page's own text, and each character's box (shares of the page) when pdfium has one."""

    text: str
    char_boxes: list[Box | None] | None


def clean_text_layer(raw: str) -> str:
    return _CONTROL.sub("", raw.replace("\r\n", "\n").replace("\r", "\n"))


def text_layer(textpage: Any, width: float, height: float) -> TextLayer:
    """The cleaned text layer with a box per kept character. pdfium's boxes are in points from
    the bottom-left; ours are shares from the top-left. Cleaning is done character by character
    here so the boxes stay aligned with the text (same result as ``clean_text_layer``)."""
    raw = textpage.get_text_range()
    if len(raw) != textpage.count_chars() or width <= 0 or height <= 0:
        # Characters outside the BMP count twice in pdfium's indices: no reliable boxes.
        return TextLayer(clean_text_layer(raw), None)
    import pypdfium2.raw as pdfium_c

    # pdfium's own call, not PdfTextPage.get_charbox: that raises on a character without a box
    # (which would fail the document) and allocates four doubles a character.
    get_box = pdfium_c.FPDFText_GetCharBox
    left, right, bottom, top = ctypes.c_double(), ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    chars: list[str] = []
    boxes: list[Box | None] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\r":
            char = "\n"
            if raw[index + 1:index + 2] == "\n":
                index += 1
        if char == "\n" or not _CONTROL.match(char):
            box: Box | None = None
            if (not char.isspace() and get_box(textpage.raw, index, left, right, bottom, top)
                    and right.value > left.value and top.value > bottom.value):
                box = (left.value / width, 1 - top.value / height, (right.value - left.value) / width,
                       (top.value - bottom.value) / height)
            chars.append(char)
            boxes.append(box)
        index += 1
    return TextLayer("".join(chars), boxes)


