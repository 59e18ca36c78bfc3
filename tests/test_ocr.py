"""OCR on generated documents with known text: every kind of upload reads back close to its
ground truth (character error rate), text layers skip OCR, and the page callback, word spans
and error codes keep their contracts. Real tesseract throughout."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import docgen
import pytest
from PIL import Image

from medupload.pipeline import ocr, preprocess, tesseract
from medupload.pipeline.ocr import PAGE_SEPARATOR, OcrError, OcrResult, read_document

PAGE_ONE = (
    "DISCHARGE SUMMARY\n"
    "Patient was admitted on 03/14/2024 with community-acquired pneumonia.\n"
    "Past history: type 2 diabetes mellitus, hypertension, hyperlipidemia.\n"
    "Medications: metformin 500 mg twice daily, lisinopril 10 mg daily,\n"
    "atorvastatin 40 mg at bedtime. Allergies: penicillin (rash).\n"
    "Labs: hemoglobin A1c 7.2%, creatinine 0.9 mg/dL, WBC 11.4."
)
PAGE_TWO = (
    "PLAN\n"
    "Complete a 5-day course of azithromycin 250 mg by mouth.\n"
    "Follow up with primary care in 2 weeks; repeat chest x-ray in 6 weeks.\n"
    "Return to the emergency department for fever above 38.5 C or shortness of breath."
)
PAGE_THREE = (
    "IMMUNIZATION RECORD\n"
    "Tetanus, diphtheria, pertussis (Tdap) given 09/02/2021, lot 4B7X2.\n"
    "Influenza vaccine given 10/11/2023. Hepatitis B series complete."
)
# Half-height pages read faster than letter pages and are enough for these contracts;
# full pages are measured in test_mtsamples_ocr.py.
HALF = {"size": (8.5, 4.0)}
MAX_CER_CLEAN = 0.02
MAX_CER_PHOTO = 0.04


def _write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def _read(path: Path, kind: str) -> tuple[OcrResult, list[tuple[int, int]]]:
    calls: list[tuple[int, int]] = []
    result = read_document(path, kind, on_page=lambda page, pages: calls.append((page, pages)))
    return result, calls


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ocr-docs")


@pytest.fixture(scope="module")
def scanned(docs: Path) -> tuple[OcrResult, list[tuple[int, int]]]:
    return _read(_write(docs, "scan.pdf", docgen.scanned_pdf([PAGE_ONE, PAGE_TWO])), "pdf")


def _assert_spans_line_up(result: OcrResult) -> None:
    """Every (start, end) span is exactly one whitespace-free word of ``text``, in order, and
    together they cover every word of the text."""
    previous_end = 0
    for start, end, confidence in result.word_confidences:
        word = result.text[start:end]
        assert word and not re.search(r"\s", word)
        assert start >= previous_end
        assert 0.0 <= confidence <= 1.0
        previous_end = end
    assert len(result.word_confidences) == len(result.text.split())
    mean = sum(c for _, _, c in result.word_confidences) / len(result.word_confidences)
    assert result.mean_confidence == pytest.approx(mean)


# ----------------------------------------------------------------------------- PDFs


def test_scanned_pdf_is_read_by_ocr(scanned: tuple[OcrResult, list[tuple[int, int]]]) -> None:
    result, calls = scanned
    assert calls == [(1, 2), (2, 2)]
    assert [p.method for p in result.pages] == ["ocr", "ocr"]
    assert result.page_count == 2
    for page, truth in zip(result.pages, [PAGE_ONE, PAGE_TWO], strict=True):
        assert docgen.cer(truth, page.text) <= MAX_CER_CLEAN, page.text
        assert 0.8 <= page.confidence <= 1.0


def test_text_joins_pages_and_spans_line_up(scanned: tuple[OcrResult, list[tuple[int, int]]]) -> None:
    result, _ = scanned
    assert result.text == PAGE_SEPARATOR.join(p.text for p in result.pages)
    assert result.text.split(PAGE_SEPARATOR)[1] == result.pages[1].text
    _assert_spans_line_up(result)
    assert 0.8 <= result.mean_confidence <= 1.0


def test_born_digital_pdf_uses_the_text_layer_without_ocr(
    docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_tesseract(*_: object, **__: object) -> object:
        raise AssertionError("tesseract ran on a page with a text layer")

    monkeypatch.setattr(tesseract, "engine", no_tesseract)
    result, calls = _read(_write(docs, "born.pdf", docgen.born_digital_pdf([PAGE_ONE, PAGE_TWO])), "pdf")
    assert calls == [(1, 2), (2, 2)]
    assert [(p.method, p.confidence) for p in result.pages] == [("text_layer", 1.0), ("text_layer", 1.0)]
    assert docgen.normalise(result.pages[0].text) == docgen.normalise(PAGE_ONE)
    assert docgen.normalise(result.pages[1].text) == docgen.normalise(PAGE_TWO)
    assert result.mean_confidence == 1.0
    _assert_spans_line_up(result)


def test_mixed_pdf_reads_each_page_its_own_way(docs: Path) -> None:
    data = docgen.mixed_pdf([PAGE_ONE, PAGE_THREE, PAGE_TWO], scanned=[1])
    result, calls = _read(_write(docs, "mixed.pdf", data), "pdf")
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert [p.method for p in result.pages] == ["text_layer", "ocr", "text_layer"]
    for page, truth in zip(result.pages, [PAGE_ONE, PAGE_THREE, PAGE_TWO], strict=True):
        assert docgen.cer(truth, page.text) <= MAX_CER_CLEAN, page.text
    _assert_spans_line_up(result)


def test_a_few_characters_do_not_count_as_a_text_layer(docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A scanner's "Page 1 of 1" stamp on an image-only page must not hide the scan from OCR.
    # Here the stamp is all there is: OCR runs, reads two confident words, and a stamp alone
    # is not a readable document.
    read: list[int] = []
    real_ocr_page = ocr._ocr_page

    def recording_ocr_page(image: Image.Image, page_timeout: float) -> object:
        words = real_ocr_page(image, page_timeout)
        read.append(len(words.words))
        return words

    monkeypatch.setattr(ocr, "_ocr_page", recording_ocr_page)
    with pytest.raises(OcrError) as caught:
        _read(_write(docs, "stamp.pdf", docgen.born_digital_pdf(["Page 1 of 1"])), "pdf")
    assert caught.value.code == "error.no_text"
    assert len(read) == 1 and read[0] >= 2


# ----------------------------------------------------------------------------- images


def test_multipage_tiff_reads_every_page(docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The callback announces each page before it is read ("Reading page 2 of 2" while it runs).
    events: list[object] = []
    real_ocr_page = ocr._ocr_page

    def recording_ocr_page(image: Image.Image, page_timeout: float) -> object:
        events.append("read")
        return real_ocr_page(image, page_timeout)

    monkeypatch.setattr(ocr, "_ocr_page", recording_ocr_page)
    data = docgen.multipage_tiff([PAGE_TWO, PAGE_THREE], **HALF)
    path = _write(docs, "fax.tiff", data)
    result = read_document(path, "tiff", on_page=lambda page, pages: events.append((page, pages)))
    assert events == [(1, 2), "read", (2, 2), "read"]
    for page, truth in zip(result.pages, [PAGE_TWO, PAGE_THREE], strict=True):
        assert page.method == "ocr"
        assert docgen.cer(truth, page.text) <= MAX_CER_CLEAN, page.text


@pytest.mark.parametrize("rotate", [90, 180])
def test_turned_phone_photo_is_turned_upright(docs: Path, rotate: int) -> None:
    page = docgen.render_page(PAGE_ONE, **HALF)
    data = docgen.phone_photo(page, rotate=rotate, blur=0.8, noise=8)
    result, calls = _read(_write(docs, f"turned{rotate}.jpg", data), "jpeg")
    assert calls == [(1, 1)]
    assert docgen.cer(PAGE_ONE, result.text) <= MAX_CER_PHOTO, result.text


def test_exif_orientation_is_applied(docs: Path) -> None:
    # Pixels stored sideways with EXIF orientation 6, as phones do: upright without OSD.
    page = docgen.render_page(PAGE_TWO, **HALF)
    data = docgen.phone_photo(page, rotate=90, exif_orientation=6)
    result, _ = _read(_write(docs, "exif.jpg", data), "jpeg")
    assert docgen.cer(PAGE_TWO, result.text) <= MAX_CER_CLEAN, result.text


def test_heic_from_a_phone(docs: Path) -> None:
    data = docgen.heic(docgen.render_page(PAGE_THREE, **HALF))
    result, calls = _read(_write(docs, "photo.heic", data), "heic")
    assert calls == [(1, 1)]
    assert docgen.cer(PAGE_THREE, result.text) <= MAX_CER_CLEAN, result.text


def test_heic_orientation_is_applied_once(docs: Path) -> None:
    page = docgen.render_page(PAGE_THREE, size=(8.5, 2.5)).rotate(90, expand=True)
    result, _ = _read(_write(docs, "sideways.heic", docgen.heic(page, exif_orientation=6)), "heic")
    assert docgen.cer(PAGE_THREE, result.text) <= MAX_CER_CLEAN, result.text


def test_noisy_skewed_jpeg(docs: Path) -> None:
    page = docgen.render_page(PAGE_ONE, **HALF)
    data = docgen.phone_photo(page, rotate=1.5, blur=1.0, noise=25, jpeg_quality=60)
    result, _ = _read(_write(docs, "noisy.jpg", data), "jpeg")
    assert docgen.cer(PAGE_ONE, result.text) <= 0.06, result.text
    _assert_spans_line_up(result)


def test_shadowed_photo_keeps_its_dark_side(docs: Path) -> None:
    # One global threshold would turn the shadowed corner solid black; lighting is evened first.
    page = docgen.render_page(PAGE_TWO, **HALF)
    data = docgen.phone_photo(page, shade=0.75, noise=6, blur=0.8)
    result, _ = _read(_write(docs, "shadow.jpg", data), "jpeg")
    assert docgen.cer(PAGE_TWO, result.text) <= MAX_CER_PHOTO, result.text


def test_transparent_png_reads_as_black_on_white(docs: Path) -> None:
    # Text drawn as alpha on transparent pixels (screenshots, exported forms): flattening
    # onto black would hide it.
    page = docgen.render_page(PAGE_THREE, size=(8.5, 2.5))
    rgba = Image.new("RGBA", page.size, (0, 0, 0, 0))
    rgba.putalpha(page.point(lambda v: 255 - v))
    result, _ = _read(_write(docs, "alpha.png", docgen.png(rgba)), "png")
    assert docgen.cer(PAGE_THREE, result.text) <= MAX_CER_CLEAN, result.text


SPARSE = "Hemoglobin A1c 7.2 %\nCreatinine 0.9 mg/dL\nLDL cholesterol 2.8 mmol/L"


@pytest.mark.parametrize("rotate", [90, 270])
def test_turned_sparse_scan_is_read(docs: Path, rotate: int) -> None:
    # Three lines on a letter page, scanned sideways: too little text for OSD, which refuses;
    # the other orientations are tried and the best reading kept.
    page = docgen.render_page(SPARSE).rotate(rotate, expand=True)
    result, _ = _read(_write(docs, f"sparse{rotate}.png", docgen.png(page)), "png")
    assert docgen.cer(SPARSE, result.text) <= 0.05, result.text


MEDICATIONS = [
    ("insulin glargine", "22 units subcutaneously at bedtime"),
    ("metformin", "1000 mg by mouth twice daily"),
    ("atorvastatin", "40 mg by mouth at night"),
    ("levothyroxine", "75 mcg before breakfast"),
]


def test_two_column_medication_photo_keeps_each_drug_with_its_sig(docs: Path) -> None:
    # A printed list with the sig in a second column far to the right: read by rows, not columns.
    page = docgen.two_column_page(MEDICATIONS, size=(8.5, 4.0), gap_in=2.5)
    photo = docgen.phone_photo(page, rotate=1.0, blur=0.8, noise=8)
    result, _ = _read(_write(docs, "medlist.jpg", photo), "jpeg")
    lines = result.text.splitlines()
    for drug, sig in MEDICATIONS:
        assert f"{drug} {sig}" in lines, result.text


def test_blank_page_is_no_text(docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_tesseract(*_: object, **__: object) -> object:
        raise AssertionError("tesseract ran on an empty page")

    monkeypatch.setattr(tesseract, "engine", no_tesseract)
    path = _write(docs, "blank.png", docgen.png(Image.new("L", (1200, 800), 255)))
    with pytest.raises(OcrError) as caught:
        _read(path, "png")
    assert caught.value.code == "error.no_text"


def test_photo_of_no_document_is_no_text(docs: Path) -> None:
    # A grainy table top: tesseract may "read" noise, but nothing it reads with confidence.
    path = _write(docs, "table.jpg", docgen.surface_photo(seed=1))
    with pytest.raises(OcrError) as caught:
        _read(path, "jpeg")
    assert caught.value.code == "error.no_text"


def test_blank_pages_next_to_text_are_fine(docs: Path) -> None:
    # One readable page is enough: the blank back of a sheet does not fail the document.
    data = docgen.mixed_pdf([PAGE_THREE, ""], scanned=[1])
    result, _ = _read(_write(docs, "backside.pdf", data), "pdf")
    assert [p.method for p in result.pages] == ["text_layer", "ocr"]
    assert result.pages[1].text == ""
    assert docgen.cer(PAGE_THREE, result.pages[0].text) <= MAX_CER_CLEAN


def _palette_on_transparent_black(page: Image.Image) -> Image.Image:
    # Ink is palette entry 1 (black); the paper is entry 0, also black but fully transparent:
    # read without compositing onto white, the page would be solid black.
    ink = page.point(lambda v: 1 if v < 128 else 0).convert("P")
    ink.putpalette([0, 0, 0, 0, 0, 0] + [0, 0, 0] * 254)
    ink.info["transparency"] = 0
    return ink


def _sixteen_bit(page: Image.Image) -> Image.Image:
    # A 16-bit greyscale scan using only the middle of its range: rescaled, not clipped.
    import numpy as np

    values = 20_000 + np.asarray(page, dtype=np.uint16) * 40
    return Image.fromarray(values.astype(np.uint16))  # mode I;16


@pytest.mark.parametrize("convert", [_palette_on_transparent_black, _sixteen_bit])
def test_palette_and_16_bit_images_are_read(docs: Path, convert: object) -> None:
    page = convert(docgen.render_page(PAGE_THREE, size=(8.5, 2.5)))  # type: ignore[operator]
    path = _write(docs, f"{page.mode}.png", docgen.png(page))
    with Image.open(path) as reopened:
        assert reopened.mode == page.mode
    result, _ = _read(path, "png")
    assert docgen.cer(PAGE_THREE, result.text) <= MAX_CER_CLEAN, result.text


def test_big_pages_are_read_at_most_ocr_max_pixels(docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A 200 x 200 in PDF page (3.6 GP at 300 dpi) renders, and a 16 MP scan is decoded, at what
    # tesseract needs: never more than OCR_MAX_PIXELS reach the page reader.
    sizes: list[tuple[int, int]] = []
    real_ocr_page = ocr._ocr_page

    def recording_ocr_page(image: Image.Image, page_timeout: float) -> object:
        sizes.append(image.size)
        return real_ocr_page(image, page_timeout)

    monkeypatch.setattr(ocr, "_ocr_page", recording_ocr_page)
    big_scan = Image.new("L", (4000, 4000), 255)
    big_scan.paste(docgen.render_page(PAGE_THREE, size=(8.5, 2.5)), (0, 0))
    files = (("poster.pdf", docgen.huge_page_pdf(), "pdf"), ("big.png", docgen.png(big_scan), "png"))
    for name, data, kind in files:
        with pytest.raises(OcrError) if kind == "pdf" else contextlib.nullcontext():
            read_document(_write(docs, name, data), kind)
    assert len(sizes) == 2
    for width, height in sizes:
        assert preprocess.OCR_MAX_PIXELS * 0.99 <= width * height <= preprocess.OCR_MAX_PIXELS


def test_pdfs_read_from_several_threads_at_once(docs: Path) -> None:
    # pdfium is not thread-safe; the runner reads documents in a thread pool. Without
    # PDFIUM_LOCK this aborts the interpreter (heap corruption) in most runs.
    from concurrent.futures import ThreadPoolExecutor

    from medupload.pipeline.intake import inspect

    pages = [[PAGE_ONE, PAGE_TWO], [PAGE_THREE], [PAGE_TWO, PAGE_THREE, PAGE_ONE]]
    paths = [_write(docs, f"thread{i}.pdf", docgen.born_digital_pdf(p)) for i, p in enumerate(pages)]

    def work(index: int) -> tuple[int, list[str]]:
        path = paths[index % len(paths)]
        count = inspect(path).page_count
        return count, [p.text for p in read_document(path, "pdf").pages]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(48)))
    for index, (count, texts) in enumerate(results):
        truth = pages[index % len(pages)]
        assert count == len(truth)
        assert [docgen.normalise(t) for t in texts] == [docgen.normalise(t) for t in truth]


# ----------------------------------------------------------------------------- errors


def test_page_timeout_is_ocr_timeout(docs: Path) -> None:
    path = _write(docs, "timeout.png", docgen.png(docgen.render_page(PAGE_ONE, **HALF)))
    with pytest.raises(OcrError) as caught:
        read_document(path, "png", page_timeout=0.001)
    assert caught.value.code == "error.ocr_timeout"


@pytest.mark.parametrize("engine", ["cli", "tesserocr"])
def test_tesseract_failure_is_ocr_failed(docs: Path, monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    # No binary (CLI), no language data (library): both are ocr_failed, not a crash.
    monkeypatch.setattr(tesseract.shutil, "which", lambda _name: None)
    monkeypatch.setattr(tesseract, "TESSDATA_DIRS", ())
    monkeypatch.delenv("TESSDATA_PREFIX", raising=False)
    fresh = tesseract.CliEngine() if engine == "cli" else tesseract.TesserocrEngine()
    monkeypatch.setattr(tesseract, "engine", lambda name=None: fresh)
    path = _write(docs, "nobinary.png", docgen.png(docgen.render_page(PAGE_THREE, size=(8.5, 2.5))))
    with pytest.raises(OcrError) as caught:
        read_document(path, "png")
    assert caught.value.code == "error.ocr_failed"


def test_without_tesserocr_the_cli_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = tesseract.importlib.util.find_spec
    monkeypatch.setattr(tesseract.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tesserocr" else real_find_spec(name, *a))
    assert isinstance(tesseract.engine("tesserocr"), tesseract.CliEngine)
    monkeypatch.undo()
    assert isinstance(tesseract.engine("tesserocr"), tesseract.TesserocrEngine)


@pytest.mark.parametrize("engine", ["cli", "tesserocr"])
def test_engine_stops_at_the_deadline_and_reads_the_next_page(engine: str) -> None:
    # A letter page cannot be read in 50 ms: the CLI child is killed, the library's pass is
    # cancelled (its partial results never touched). The same engine then reads normally.
    reader = tesseract.engine(engine)
    page = preprocess.preprocess(docgen.render_page(PAGE_ONE + "\n\n" + PAGE_TWO))
    with pytest.raises(tesseract.EngineTimeout):
        reader.read_tsv(page, ocr.PSM, time.monotonic() + 0.05)
    small = preprocess.preprocess(docgen.render_page(PAGE_THREE, size=(8.5, 2.5)))
    words = ocr._parse_tsv(reader.read_tsv(small, ocr.PSM, time.monotonic() + 60)).words
    text = ocr._assemble([(words, "ocr")]).text
    assert docgen.cer(PAGE_THREE, text) <= MAX_CER_CLEAN, text


@pytest.mark.parametrize(("data", "kind"), [(docgen.corrupt_pdf(), "pdf"), (b"\x89PNG\r\n\x1a\n", "png")])
def test_unreadable_file_is_unreadable(docs: Path, data: bytes, kind: str) -> None:
    with pytest.raises(OcrError) as caught:
        read_document(_write(docs, f"bad.{kind}", data), kind)
    assert caught.value.code == "error.unreadable"


# ----------------------------------------------------------------------------- helpers


def test_otsu_threshold_separates_ink_from_paper() -> None:
    import numpy as np

    pixels = np.array([30] * 100 + [40] * 100 + [200] * 500 + [220] * 300, dtype=np.uint8)
    assert 40 <= preprocess._otsu(pixels) < 200


def test_levenshtein_matches_the_textbook_table() -> None:
    import random

    def table(a: str, b: str) -> int:
        previous = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            current = [i]
            for j, cb in enumerate(b, 1):
                current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
            previous = current
        return previous[-1]

    rng = random.Random(3)
    for _ in range(300):
        a = "".join(rng.choice("ab c") for _ in range(rng.randrange(0, 40)))
        b = "".join(rng.choice("abd ") for _ in range(rng.randrange(0, 40)))
        assert docgen.levenshtein(a, b) == table(a, b)


def test_median3x3_equals_pillows_median_filter() -> None:
    """The fast speckle filter must give Pillow's MedianFilter(3) result pixel for pixel."""
    import numpy as np
    from PIL import Image, ImageFilter

    from medupload.pipeline.preprocess import median3x3

    rng = np.random.default_rng(7)
    for shape in ((1, 1), (2, 5), (37, 53), (300, 211)):
        image = Image.fromarray((rng.random(shape) * 256).astype(np.uint8), "L")
        expected = np.asarray(image.filter(ImageFilter.MedianFilter(3)))
        assert np.array_equal(np.asarray(median3x3(image)), expected), shape
