"""Intake: every bad input gets its own code and status, every good kind is recognised by its
bytes (not its name), and the streaming sink refuses oversize uploads without leaving files."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import docgen
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageFile

from medupload.api.errors import http_status
from medupload.pipeline.intake import (
    MAX_DECODED_BYTES,
    MAX_PAGES,
    MAX_PIXELS,
    IntakeError,
    SizeLimitedSink,
    inspect,
    sniff_kind,
)
from medupload.progress.stages import MESSAGES, message

SHORT = "Patient: Jane Roe\nMetformin 500 mg twice daily."


def _write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def small_page() -> Image.Image:
    return docgen.render_page(SHORT, size=(4.0, 1.5), margin_in=0.25)


# ----------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"%PDF-1.7\n%\xe2\xe3", "pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"II*\x00\x08\x00\x00\x00", "tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "tiff"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "heic"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf", "heic"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", None),  # AVIF is HEIF, not HEIC
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", None),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2", None),  # an MP4 video
        (b"GIF89a\x01\x00", None),
        (b"PK\x03\x04\x14\x00", None),  # a .docx
        (b"Patient notes, plain text", None),
        (b"", None),
    ],
)
def test_sniff_kind_by_magic_bytes(head: bytes, kind: str | None) -> None:
    assert sniff_kind(head) == kind


def test_sniffing_ignores_the_filename(tmp_path: Path, small_page: Image.Image) -> None:
    pdf_named_jpg = _write(tmp_path, "scan.jpg", docgen.born_digital_pdf([SHORT]))
    png_named_pdf = _write(tmp_path, "report.pdf", docgen.png(small_page))
    text_named_pdf = _write(tmp_path, "results.pdf", b"Glucose 5.4 mmol/L\n" * 20)
    assert inspect(pdf_named_jpg).kind == "pdf"
    assert inspect(png_named_pdf).kind == "png"
    with pytest.raises(IntakeError) as caught:
        inspect(text_named_pdf)
    assert (caught.value.code, http_status(caught.value.code)) == ("error.unsupported_type", 415)


# ----------------------------------------------------------------------------- good inputs


def test_good_kinds_are_accepted_with_their_page_count(tmp_path: Path, small_page: Image.Image) -> None:
    tiff = docgen.multipage_tiff([SHORT] * 3, size=(4.0, 1.5), margin_in=0.25)
    cases = {
        "born.bin": (docgen.born_digital_pdf([SHORT, SHORT, SHORT]), "pdf", "application/pdf", 3),
        "scan.bin": (docgen.scanned_pdf([SHORT]), "pdf", "application/pdf", 1),
        "png.bin": (docgen.png(small_page), "png", "image/png", 1),
        "jpeg.bin": (docgen.phone_photo(small_page, rotate=90), "jpeg", "image/jpeg", 1),
        "tiff.bin": (tiff, "tiff", "image/tiff", 3),
        "heic.bin": (docgen.heic(small_page), "heic", "image/heic", 1),
    }
    for name, (data, kind, content_type, pages) in cases.items():
        result = inspect(_write(tmp_path, name, data))
        assert (result.kind, result.content_type, result.page_count) == (kind, content_type, pages), name


def test_exactly_the_page_limit_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, "fifty.pdf", docgen.too_many_pages_pdf(MAX_PAGES))
    assert inspect(path).page_count == MAX_PAGES


# ----------------------------------------------------------------------------- bad inputs


def _refusal(path: Path) -> IntakeError:
    with pytest.raises(IntakeError) as caught:
        inspect(path)
    return caught.value


def _tiff_frames(count: int) -> bytes:
    frames = [Image.new("L", (40, 20), 255) for _ in range(count)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def _bad_inputs(page: Image.Image) -> dict[str, tuple[bytes, str, int]]:
    jpeg = docgen.jpeg(page)
    return {
        "empty": (b"", "error.unreadable", 422),
        "random": (bytes(range(256)) * 8, "error.unsupported_type", 415),
        "gif": (b"GIF89a" + bytes(64), "error.unsupported_type", 415),
        "encrypted": (docgen.encrypted_pdf(), "error.pdf_encrypted", 422),
        "corrupt_pdf": (docgen.corrupt_pdf(), "error.unreadable", 422),
        "header_only_pdf": (b"%PDF-1.4\n", "error.unreadable", 422),
        "pages_pdf": (docgen.too_many_pages_pdf(MAX_PAGES + 1), "error.too_many_pages", 422),
        "pages_tiff": (_tiff_frames(MAX_PAGES + 1), "error.too_many_pages", 422),
        "bomb": (docgen.bomb_png(), "error.image_too_large", 422),
        "bomb_jpeg_header": (_jpeg_declaring(jpeg, 9000, 9000), "error.image_too_large", 422),
        "truncated_png": (docgen.truncated(docgen.png(page)), "error.unreadable", 422),
        "truncated_jpeg": (docgen.truncated(jpeg, 0.4), "error.unreadable", 422),
        "truncated_heic": (docgen.truncated(docgen.heic(page)), "error.unreadable", 422),
        "png_magic_only": (b"\x89PNG\r\n\x1a\n" + bytes(40), "error.unreadable", 422),
    }


def _jpeg_declaring(data: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its frame header (SOF0) claiming another size: a bomb by header."""
    index = data.index(b"\xff\xc0")
    return data[: index + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + data[index + 9 :]


@pytest.fixture(scope="module")
def bad_inputs(small_page: Image.Image) -> dict[str, tuple[bytes, str, int]]:
    return _bad_inputs(small_page)


BAD_NAMES = [
    "empty", "random", "gif", "encrypted", "corrupt_pdf", "header_only_pdf", "pages_pdf", "pages_tiff",
    "bomb", "bomb_jpeg_header", "truncated_png", "truncated_jpeg", "truncated_heic", "png_magic_only",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_each_bad_input_gets_its_code_and_status(
    tmp_path: Path, bad_inputs: dict[str, tuple[bytes, str, int]], name: str
) -> None:
    data, code, status = bad_inputs[name]
    error = _refusal(_write(tmp_path, name, data))
    assert (error.code, http_status(error.code)) == (code, status)
    assert error.code in MESSAGES
    # The user sees the catalogue text only, filled with numbers, never exception text.
    assert error.message == message(error.code, **error.numbers)
    assert "{" not in error.message


def test_every_bad_input_is_covered(bad_inputs: dict[str, tuple[bytes, str, int]]) -> None:
    assert sorted(bad_inputs) == sorted(BAD_NAMES)


def test_too_many_pages_carries_the_limit(tmp_path: Path) -> None:
    error = _refusal(_write(tmp_path, "many.pdf", docgen.too_many_pages_pdf(MAX_PAGES + 1)))
    assert error.numbers == {"limit": MAX_PAGES}
    assert str(MAX_PAGES) in error.message


def test_encrypted_fixture_is_really_encrypted() -> None:
    # Guards the test above: the fixture opens with its password, so refusing it is about
    # encryption, not about a malformed file.
    data = docgen.encrypted_pdf("Confidential lab report", password="secret")
    with pytest.raises(pdfium.PdfiumError):
        pdfium.PdfDocument(data)
    document = pdfium.PdfDocument(data, password="secret")
    assert "Confidential lab report" in document[0].get_textpage().get_text_range()


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_bomb_is_refused_from_its_header_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = docgen.bomb_png()
    assert len(data) < 100_000
    with Image.open(io.BytesIO(data)) as image:
        assert image.width * image.height > MAX_PIXELS

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    assert _refusal(_write(tmp_path, "bomb.png", data)).code == "error.image_too_large"


def test_colour_image_under_the_pixel_limit_is_refused_by_its_decoded_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 41 MP passes the pixel limit, but in RGBA that is 164 MB of memory once decoded: refused
    # from the header, like a bomb. The same pixel count in greyscale is a 41 MB page.
    side = 6_400
    assert side * side < MAX_PIXELS and side * side * 4 > MAX_DECODED_BYTES >= side * side
    data = docgen.bomb_png(side, side, rgba=True)

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    assert _refusal(_write(tmp_path, "rgba.png", data)).code == "error.image_too_large"


def test_unreadable_path_is_unreadable(tmp_path: Path) -> None:
    assert _refusal(tmp_path / "missing.pdf").code == "error.unreadable"


# ----------------------------------------------------------------------------- the sink


def test_sink_streams_to_a_temp_file_with_hash_and_size(tmp_path: Path) -> None:
    chunks = [b"%PDF-1.4\n", b"x" * 4096, b"y" * 1000]
    sink = SizeLimitedSink(tmp_path / "incoming", max_bytes=10_000)
    for chunk in chunks:
        sink.write(chunk)
    path, sha256, size = sink.finish()
    body = b"".join(chunks)
    assert path.parent == tmp_path / "incoming"
    assert path.read_bytes() == body
    assert (sha256, size) == (hashlib.sha256(body).hexdigest(), len(body))


def test_sink_accepts_exactly_the_limit(tmp_path: Path) -> None:
    sink = SizeLimitedSink(tmp_path, max_bytes=1024)
    sink.write(b"a" * 1000)
    sink.write(b"b" * 24)
    assert sink.finish()[2] == 1024


def test_sink_refuses_past_the_limit_and_leaves_nothing(tmp_path: Path) -> None:
    limit = 3 * 1024 * 1024
    sink = SizeLimitedSink(tmp_path, max_bytes=limit)
    sink.write(b"a" * limit)
    with pytest.raises(IntakeError) as caught:
        sink.write(b"b")  # refused at the first byte over, not after reading everything
    assert (caught.value.code, http_status(caught.value.code)) == ("error.too_large", 413)
    assert caught.value.numbers == {"limit_mb": 3}
    assert "3 MB" in caught.value.message
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError):
        sink.write(b"more")


def test_sink_abort_and_failed_block_leave_nothing(tmp_path: Path) -> None:
    sink = SizeLimitedSink(tmp_path, max_bytes=100)
    sink.write(b"partial")
    sink.abort()
    sink.abort()  # idempotent
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConnectionError), SizeLimitedSink(tmp_path, max_bytes=100) as failing:
        failing.write(b"partial")
        raise ConnectionError("client went away")
    assert list(tmp_path.iterdir()) == []
