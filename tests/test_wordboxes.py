"""Word boxes: OCR and PDF text layers say where each word is on its page, as shares of the
page, so a fact can be shown where it was read. Real tesseract and pdfium on generated pages
whose layout is known (tests/docgen.py draws line i at margin + i * line height)."""

from __future__ import annotations

import time
from pathlib import Path

import docgen
import pytest
from PIL import Image

from medupload.pipeline import ocr, preprocess, tesseract
from medupload.pipeline.ocr import read_document
from medupload.pipeline.wordboxes import WordBox, locate

LAB = "LAB REPORT\nCreatinine 0.9 mg/dL\nPotassium 4.1 mmol/L"
SIZE = (8.5, 4.0)  # inches: a half-height page reads fast


def _line_top(line: int, size: tuple[float, float] = SIZE, font_pt: float = 11.0) -> float:
    """Where docgen.render_page starts drawing line ``line`` (0-based), as a share of the height."""
    margin = 0.75 * docgen.DPI
    line_height = round(font_pt * 1.45 / 72 * docgen.DPI)
    return (margin + line * line_height) / (size[1] * docgen.DPI)


def _word(text: str, word: str) -> tuple[int, int]:
    start = text.index(word)
    return start, start + len(word)


def _crop(page: Image.Image, box: tuple[float, float, float, float], pad: float = 0.01) -> Image.Image:
    x, y, w, h = box
    width, height = page.size
    return page.crop((round((x - pad) * width), round((y - pad) * height),
                      round((x + w + pad) * width), round((y + h + pad) * height)))


def _read_crop(crop: Image.Image) -> str:
    """OCR the crop alone (one line, --psm 7) on a white border, as tesseract likes it."""
    framed = Image.new("L", (crop.width + 60, crop.height + 60), 255)
    framed.paste(crop.convert("L"), (30, 30))
    raw = tesseract.engine().read_tsv(preprocess.preprocess(framed), "7", time.monotonic() + 30)
    return " ".join(word for word, _, _ in ocr._parse_tsv(raw).words)


def test_ocr_boxes_are_where_the_page_has_the_words(tmp_path: Path) -> None:
    page = docgen.render_page(LAB, size=SIZE)
    path = tmp_path / "lab.png"
    path.write_bytes(docgen.png(page))
    result = read_document(path, "png")
    assert len(result.word_boxes) == len(result.word_confidences)
    for box in result.word_boxes:
        assert box.page == 1
        assert 0 <= box.x < box.x + box.w <= 1 and 0 <= box.y < box.y + box.h <= 1
        assert result.text[box.start:box.end] == result.text[box.start:box.end].strip()
    found = locate(result.word_boxes, *_word(result.text, "Creatinine"))
    assert found is not None
    number, box = found
    # docgen draws line 1 from the left margin (0.75 in) at margin + one line height.
    assert number == 1
    assert abs(box[0] - 0.75 / SIZE[0]) < 0.01
    assert _line_top(1) - 0.01 < box[1] < _line_top(2)
    assert box[1] + box[3] <= _line_top(2) + 0.01
    # Cut out of the page, the box holds the word and nothing of the next line.
    assert _read_crop(_crop(page, box, pad=0.005)) == "Creatinine"
    # A fact spanning several words gets their union, on the same line.
    span = locate(result.word_boxes, *_word(result.text, "Potassium 4.1 mmol/L"))
    assert span is not None
    assert span[1][1] > box[1] + box[3] - 0.005  # the next line
    assert _read_crop(_crop(page, span[1], pad=0.005)) == "Potassium 4.1 mmol/L"


@pytest.mark.parametrize("turn", [90, 180])
def test_boxes_of_a_turned_page_are_on_the_page_as_uploaded(tmp_path: Path, turn: int) -> None:
    # The page is read upright (OSD / other orientations) but shown as uploaded: boxes follow it.
    page = docgen.render_page(LAB, size=SIZE).rotate(-turn, expand=True)
    path = tmp_path / f"turned{turn}.png"
    path.write_bytes(docgen.png(page))
    result = read_document(path, "png")
    found = locate(result.word_boxes, *_word(result.text, "Creatinine"))
    assert found is not None
    crop = _crop(page, found[1], pad=0.005).rotate(turn, expand=True)  # turned upright to read it
    assert _read_crop(crop) == "Creatinine"


def test_text_layer_boxes_from_pdfium(tmp_path: Path) -> None:
    path = tmp_path / "digital.pdf"
    path.write_bytes(docgen.born_digital_pdf([LAB, "PLAN\nfollow up in 2 weeks"]))
    result = read_document(path, "pdf")
    assert [p.method for p in result.pages] == ["text_layer", "text_layer"]
    assert len(result.word_boxes) == len(result.word_confidences)
    first = locate(result.word_boxes, *_word(result.text, "Creatinine"))
    second = locate(result.word_boxes, *_word(result.text, "follow up"))
    assert first is not None and second is not None
    assert first[0] == 1 and second[0] == 2
    # Both are the second line of their page: the same height, below the first line's words.
    heading = locate(result.word_boxes, *_word(result.text, "LAB"))
    assert heading is not None
    assert abs(first[1][1] - second[1][1]) < 0.002
    assert first[1][1] > heading[1][1] + heading[1][3]
    assert all(0 <= v <= 1 for v in (*first[1], *second[1]))


def test_locate_takes_the_first_pages_part_and_nothing_without_boxes() -> None:
    boxes = [WordBox(0, 4, 1, 0.1, 0.8, 0.2, 0.05), WordBox(5, 9, 1, 0.4, 0.8, 0.1, 0.06),
             WordBox(12, 16, 2, 0.1, 0.1, 0.2, 0.05)]
    assert locate(boxes, 2, 8) == (1, (0.1, 0.8, 0.4, 0.06))
    assert locate(boxes, 0, 16) == (1, (0.1, 0.8, 0.4, 0.06))
    assert locate(boxes, 9, 12) is None  # only the page break
    assert locate([], 0, 4) is None
