"""What keeping word boxes costs (not a test: prints figures and ratios from the same run).

    .venv/bin/python bench/wordboxes.py [--repeat 5]

- OCR pages: the boxes come from the TSV tesseract already returns; the cost is parsing four
  more columns a word. Measured against the tesseract pass on the same letter page.
- PDF text layers: one pdfium ``get_charbox`` call per character. Measured as the whole
  ``read_document`` of a 4-page born-digital PDF with and without the boxes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import docgen  # noqa: E402

from medupload.pipeline import ocr, preprocess, tesseract, wordboxes  # noqa: E402

PAGE = "\n".join(f"Line {n}: Hemoglobin A1c 7.{n % 10} % collected 2026-01-{n % 28 + 1:02d}, "
                 "creatinine 0.9 mg/dL" for n in range(40))


def _best(repeat: int, run: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) if repeat < 3 else statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat

    binary = preprocess.preprocess(docgen.render_page(PAGE))
    engine = tesseract.engine()
    raw = engine.read_tsv(binary, ocr.PSM, time.monotonic() + 120)
    words = len(ocr._parse_tsv(raw).words)
    read = _best(max(1, repeat // 2), lambda: engine.read_tsv(binary, ocr.PSM, time.monotonic() + 120))
    plain = _best(repeat * 20, lambda: ocr._parse_tsv(raw))
    boxed = _best(repeat * 20, lambda: ocr._parse_tsv(raw, binary.size))
    print(f"OCR letter page, {words} words: tesseract {read * 1000:.0f} ms; TSV parse {plain * 1000:.2f} ms "
          f"-> {boxed * 1000:.2f} ms with boxes (+{(boxed - plain) * 1000:.2f} ms, "
          f"{(boxed - plain) / read:.3%} of the page's OCR)")

    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "digital.pdf"
        pdf.write_bytes(docgen.born_digital_pdf([PAGE[:2400]] * 4))
        with_boxes = _best(repeat, lambda: ocr.read_document(pdf, "pdf"))
        real = wordboxes.text_layer
        ocr.text_layer = lambda textpage, w, h: wordboxes.TextLayer(  # type: ignore[assignment]
            wordboxes.clean_text_layer(textpage.get_text_range()), None)
        try:
            without = _best(repeat, lambda: ocr.read_document(pdf, "pdf"))
        finally:
            ocr.text_layer = real
        chars = len(ocr.read_document(pdf, "pdf").text)
        print(f"Text-layer PDF, 4 pages, {chars} chars: read_document {without * 1000:.1f} ms without boxes, "
              f"{with_boxes * 1000:.1f} ms with (x{with_boxes / without:.2f})")


if __name__ == "__main__":
    main()
