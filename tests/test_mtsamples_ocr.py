"""Real clinical prose (MTSamples transcriptions) rendered as scanned pages and read back by
OCR: the character error rate per note must stay low, since extraction works on this text."""

from __future__ import annotations

import json
import time
from pathlib import Path

import docgen
import pytest

from medupload.pipeline.ocr import read_document

NOTES = Path(__file__).resolve().parents[2] / "shared" / "data" / "mtsamples" / "notes.jsonl"
NOTE_COUNT = 3
CHARS = 1500
MAX_CER = 0.05


def _notes() -> list[str]:
    """The first few notes long enough to fill most of a page, cut at CHARS on a word boundary."""
    picked: list[str] = []
    with NOTES.open(encoding="utf-8") as handle:
        for line in handle:
            text = json.loads(line)["text"].strip()
            if len(text) < CHARS:
                continue
            picked.append(text[:CHARS].rsplit(" ", 1)[0])
            if len(picked) == NOTE_COUNT:
                break
    return picked


@pytest.mark.slow
@pytest.mark.skipif(not NOTES.exists(), reason=f"MTSamples notes not found at {NOTES}")
def test_mtsamples_notes_read_back_from_scanned_pages(tmp_path: Path) -> None:
    notes = _notes()
    assert len(notes) == NOTE_COUNT
    path = tmp_path / "notes.pdf"
    path.write_bytes(docgen.scanned_pdf(notes))
    started = time.perf_counter()
    result = read_document(path, "pdf")
    seconds = time.perf_counter() - started
    assert [page.method for page in result.pages] == ["ocr"] * NOTE_COUNT
    rates = [docgen.cer(truth, page.text) for truth, page in zip(notes, result.pages, strict=True)]
    for number, (rate, page) in enumerate(zip(rates, result.pages, strict=True), start=1):
        print(f"note {number}: CER {rate:.4f}, confidence {page.confidence:.3f}")
    print(f"{seconds / NOTE_COUNT:.2f} s per page (figure only; timing is for the bench scripts)")
    assert max(rates) <= MAX_CER, rates
