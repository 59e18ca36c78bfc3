"""Fixture generator: documents whose text we know, and bad inputs that must be refused.

Everything is built in memory from a string, so OCR tests can compare what was read with the
ground truth. Importing this module has no side effects (other helpers' tests and benches
import it). PDFs are written by a tiny PDF writer below rather than a PDF library, so the
fixtures need nothing beyond Pillow/pillow-heif/numpy and their bytes are deterministic.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import textwrap
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DPI = 300
LETTER = (8.5, 11.0)  # inches
_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
_FONTS = {
    "sans": ("DejaVuSans.ttf", "LiberationSans-Regular.ttf"),
    "serif": ("DejaVuSerif.ttf", "LiberationSerif-Regular.ttf"),
    "mono": ("DejaVuSansMono.ttf", "LiberationMono-Regular.ttf"),
}


# --------------------------------------------------------------------------- page images


def font_path(family: str = "sans") -> Path:
    """The first installed TTF for ``family`` (fonts-dejavu-core is always there)."""
    for name in _FONTS[family]:
        for directory in _FONT_DIRS:
            if (directory / name).exists():
                return directory / name
    raise FileNotFoundError(f"no {family} TTF font under /usr/share/fonts")


def _wrap(text: str, font: ImageFont.FreeTypeFont, width_px: int) -> list[str]:
    """Greedy word wrap by measured width; explicit newlines are kept."""
    lines: list[str] = []
    for paragraph in text.splitlines():
        words = paragraph.split()
        if not words:
            lines.append("")
            continue
        line = words[0]
        for word in words[1:]:
            candidate = f"{line} {word}"
            if font.getlength(candidate) <= width_px:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def render_page(
    text: str,
    *,
    size: tuple[float, float] = LETTER,
    font_pt: float = 11.0,
    family: str = "sans",
    margin_in: float = 0.75,
    dpi: int = DPI,
) -> Image.Image:
    """A clean greyscale page (like a 300 dpi scan) carrying ``text``, word-wrapped.

    Raises ValueError when the text does not fit, so the ground truth is always all on the page.
    """
    width, height = round(size[0] * dpi), round(size[1] * dpi)
    image = Image.new("L", (width, height), 255)
    font = ImageFont.truetype(str(font_path(family)), round(font_pt / 72 * dpi))
    margin = round(margin_in * dpi)
    line_height = round(font_pt * 1.45 / 72 * dpi)
    lines = _wrap(text, font, width - 2 * margin)
    if margin + len(lines) * line_height > height - margin:
        raise ValueError(f"{len(lines)} lines do not fit on a {size[0]}x{size[1]} in page")
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((margin, margin + index * line_height), line, fill=0, font=font)
    return image


def two_column_page(
    rows: Sequence[tuple[str, str]],
    *,
    title: str = "MEDICATION LIST",
    size: tuple[float, float] = LETTER,
    font_pt: float = 11.0,
    gap_in: float = 0.6,
    dpi: int = DPI,
) -> Image.Image:
    """A page with a table of two columns (e.g. drug | sig), like a printed medication list: the
    right column starts ``gap_in`` after the widest left cell, so each row reads across."""
    width, height = round(size[0] * dpi), round(size[1] * dpi)
    image = Image.new("L", (width, height), 255)
    font = ImageFont.truetype(str(font_path("sans")), round(font_pt / 72 * dpi))
    margin = round(0.75 * dpi)
    line_height = round(font_pt * 1.8 / 72 * dpi)
    right = margin + round(max(font.getlength(left) for left, _ in rows)) + round(gap_in * dpi)
    draw = ImageDraw.Draw(image)
    draw.text((margin, margin), title, fill=0, font=font)
    for index, (left, right_text) in enumerate(rows, start=2):
        top = margin + index * line_height
        draw.text((margin, top), left, fill=0, font=font)
        draw.text((right, top), right_text, fill=0, font=font)
    return image


def phone_photo(
    image: Image.Image,
    *,
    rotate: float = 0.0,
    blur: float = 0.0,
    noise: float = 0.0,
    jpeg_quality: int = 85,
    exif_orientation: int | None = None,
    shade: float = 0.0,
    seed: int = 0,
) -> bytes:
    """JPEG bytes that look like a phone photo of ``image``.

    ``rotate`` turns the pixels counter-clockwise by that many degrees (90/180/270 for a phone
    held sideways, small values for skew); ``blur`` is a Gaussian radius in pixels; ``noise``
    the standard deviation of Gaussian sensor noise (0..255 scale). ``exif_orientation`` (1-8)
    is written into the EXIF like a phone does, so the reader must apply it. ``shade`` (0..1)
    darkens the page towards one corner, like a hand's shadow or a desk lamp off to one side.
    """
    photo = image.convert("L")
    if shade:
        height, width = photo.height, photo.width
        ramp = np.add.outer(np.linspace(0, 1, height), np.linspace(0, 1, width)) / 2
        light = 1.0 - shade * ramp
        photo = Image.fromarray((np.asarray(photo, dtype=np.float32) * light).astype(np.uint8), "L")
    if rotate:
        photo = photo.rotate(rotate, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
    if blur:
        photo = photo.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        rng = np.random.default_rng(seed)
        pixels = np.asarray(photo, dtype=np.float32)
        pixels = pixels + rng.normal(0.0, noise, pixels.shape).astype(np.float32)
        photo = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
    # Phones shoot colour: a warm paper tint under indoor light.
    photo = Image.merge("RGB", (photo, photo.point(lambda v: v * 0.97), photo.point(lambda v: v * 0.9)))
    buffer = io.BytesIO()
    extra = _exif_orientation(exif_orientation)
    photo.save(buffer, format="JPEG", quality=jpeg_quality, **extra)
    return buffer.getvalue()


def surface_photo(size: tuple[int, int] = (2400, 1800), seed: int = 0) -> bytes:
    """JPEG bytes of a phone photo with no document in it: a mottled, grainy table top with
    streaks, the kind of picture that makes an OCR engine "read" noise."""
    rng = np.random.default_rng(seed)
    blotches = rng.normal(150.0, 35.0, (size[1] // 40, size[0] // 40))
    surface = np.asarray(Image.fromarray(np.clip(blotches, 0, 255).astype(np.uint8), "L")
                         .resize(size, Image.Resampling.BICUBIC), dtype=np.float32)
    streaks = rng.normal(0.0, 18.0, (1, size[0])).repeat(size[1], axis=0)
    photo = Image.fromarray(np.clip(surface + streaks, 0, 255).astype(np.uint8), "L")
    return phone_photo(photo, blur=1.2, noise=12, seed=seed)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(
        buffer, format="JPEG", quality=quality
    )
    return buffer.getvalue()


def _exif_orientation(orientation: int | None) -> dict[str, object]:
    """``save()`` keyword arguments that write an EXIF Orientation tag (0x0112), if any."""
    if orientation is None:
        return {}
    exif = Image.Exif()
    exif[0x0112] = orientation
    return {"exif": exif.tobytes()}


def heic(image: Image.Image, quality: int = 80, exif_orientation: int | None = None) -> bytes:
    """HEIC bytes as an iPhone would send (colour, lossy HEVC), optionally with EXIF orientation."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    extra = _exif_orientation(exif_orientation)
    image.convert("RGB").save(buffer, format="HEIF", quality=quality, **extra)
    return buffer.getvalue()


def multipage_tiff(pages: Sequence[str], **render: object) -> bytes:
    """A multi-page TIFF (LZW) with one rendered page per string, like a fax or scanner batch."""
    images = [render_page(text, **render) for text in pages]  # type: ignore[arg-type]
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="TIFF", save_all=True, append_images=images[1:], compression="tiff_lzw", dpi=(DPI, DPI)
    )
    return buffer.getvalue()


# --------------------------------------------------------------------------- a tiny PDF writer


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _text_content(text: str, width_pt: float, height_pt: float, font_pt: float = 11.0) -> bytes:
    """A content stream drawing ``text`` in Helvetica; wraps at a width Helvetica always fits."""
    chars_per_line = int((width_pt - 108) / (font_pt * 0.6))
    lines: list[str] = []
    for paragraph in text.splitlines():
        lines.extend(textwrap.wrap(paragraph, chars_per_line) or [""])
    leading = font_pt * 1.4
    if len(lines) * leading > height_pt - 108:
        raise ValueError("text does not fit on the page")
    ops = [b"BT", f"/F1 {font_pt:g} Tf {leading:g} TL 54 {height_pt - 54 - font_pt:g} Td".encode()]
    for line in lines:
        ops.append(_pdf_string(line) + b" Tj T*")
    ops.append(b"ET")
    return b"\n".join(ops)


def _image_content(width_pt: float, height_pt: float) -> bytes:
    return f"q {width_pt:g} 0 0 {height_pt:g} 0 0 cm /Im1 Do Q".encode()


class _Pdf:
    """Collects objects and writes a PDF with a correct xref table (optionally RC4-encrypted)."""

    def __init__(self) -> None:
        self.objects: list[bytes] = []
        self.streams: dict[int, bytes] = {}

    def reserve(self) -> int:
        self.objects.append(b"")
        return len(self.objects)

    def set(self, number: int, body: bytes, stream: bytes | None = None) -> int:
        self.objects[number - 1] = body
        if stream is not None:
            self.streams[number] = stream
        return number

    def add(self, body: bytes, stream: bytes | None = None) -> int:
        return self.set(self.reserve(), body, stream)

    def build(self, root: int, encrypt_key: bytes | None = None, trailer_extra: bytes = b"") -> bytes:
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self.objects, start=1):
            offsets.append(len(out))
            out += f"{number} 0 obj\n".encode() + body
            if number in self.streams:
                data = self.streams[number]
                if encrypt_key is not None:
                    data = _rc4(_object_key(encrypt_key, number), data)
                out += b"\nstream\n" + data + b"\nendstream"
            out += b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(self.objects) + 1}\n0000000000 65535 f \n".encode()
        for offset in offsets:
            out += f"{offset:010d} 00000 n \n".encode()
        out += f"trailer\n<< /Size {len(self.objects) + 1} /Root {root} 0 R ".encode() + trailer_extra
        out += f">>\nstartxref\n{xref}\n%%EOF\n".encode()
        return bytes(out)


def _page_jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("L").save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _build_pdf(
    pages: Sequence[tuple[str, str]],
    size: tuple[float, float] = LETTER,
    encrypt_key: bytes | None = None,
    trailer_extra: bytes = b"",
) -> bytes:
    """Pages are ("text", s) for a real text layer, ("scan", s) for an image of s, ("blank", "")."""
    pdf = _Pdf()
    catalog, tree = pdf.reserve(), pdf.reserve()
    font = pdf.add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    width_pt, height_pt = size[0] * 72, size[1] * 72
    kids = []
    for kind, text in pages:
        resources = f"/Font << /F1 {font} 0 R >>"
        if kind == "text":
            content = _text_content(text, width_pt, height_pt)
        elif kind == "scan":
            image = render_page(text, size=size)
            data = _page_jpeg(image)
            xobject = pdf.add(
                f"<< /Type /XObject /Subtype /Image /Width {image.width} /Height {image.height} "
                f"/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode "
                f"/Length {len(data)} >>".encode(),
                data,
            )
            resources = f"/XObject << /Im1 {xobject} 0 R >>"
            content = _image_content(width_pt, height_pt)
        else:
            content = b""
        stream = pdf.add(f"<< /Length {len(content)} >>".encode(), content)
        kids.append(
            pdf.add(
                f"<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 {width_pt:g} {height_pt:g}] "
                f"/Resources << {resources} >> /Contents {stream} 0 R >>".encode()
            )
        )
    refs = " ".join(f"{kid} 0 R" for kid in kids)
    pdf.set(tree, f"<< /Type /Pages /Count {len(kids)} /Kids [{refs}] >>".encode())
    pdf.set(catalog, f"<< /Type /Catalog /Pages {tree} 0 R >>".encode())
    return pdf.build(catalog, encrypt_key, trailer_extra)


def born_digital_pdf(pages: Sequence[str]) -> bytes:
    """A PDF whose pages carry a real text layer (as exported by a lab system or EHR)."""
    return _build_pdf([("text", text) for text in pages])


def scanned_pdf(pages: Sequence[str]) -> bytes:
    """An image-only PDF: each page is a 300 dpi greyscale JPEG of the rendered text."""
    return _build_pdf([("scan", text) for text in pages])


def mixed_pdf(pages: Sequence[str], scanned: Sequence[int] = (1,)) -> bytes:
    """Text-layer pages, except the 0-based indexes in ``scanned``, which are image-only."""
    return _build_pdf([("scan" if i in scanned else "text", text) for i, text in enumerate(pages)])


def too_many_pages_pdf(pages: int = 51) -> bytes:
    """A valid PDF with ``pages`` small blank pages (cheap to make, over the page limit)."""
    return _build_pdf([("blank", "")] * pages, size=(2.0, 2.0))


# RC4 with the PDF standard security handler, revision 2 (40-bit): real encryption, so a test
# can show the fixture opens with its password and is refused without it.
_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def _object_key(key: bytes, number: int) -> bytes:
    return hashlib.md5(key + struct.pack("<I", number)[:3] + b"\x00\x00").digest()[: len(key) + 5]


def encrypted_pdf(text: str = "Confidential lab report", password: str = "secret") -> bytes:
    """A one-page text PDF encrypted with a user password (RC4-40, standard security handler)."""
    padded_user = (password.encode() + _PAD)[:32]
    padded_owner = (b"owner-" + password.encode() + _PAD)[:32]
    owner_entry = _rc4(hashlib.md5(padded_owner).digest()[:5], padded_user)
    permissions = -4
    file_id = hashlib.md5(text.encode()).digest()
    key = hashlib.md5(padded_user + owner_entry + struct.pack("<i", permissions) + file_id).digest()[:5]
    user_entry = _rc4(key, _PAD)
    encrypt = (
        f"/Encrypt << /Filter /Standard /V 1 /R 2 /O <{owner_entry.hex()}> /U <{user_entry.hex()}> "
        f"/P {permissions} >> /ID [<{file_id.hex()}> <{file_id.hex()}>] "
    ).encode()
    return _build_pdf([("text", text)], encrypt_key=key, trailer_extra=encrypt)


def corrupt_pdf(seed: int = 7) -> bytes:
    """Starts like a PDF, then is noise: no objects, no xref, nothing a reader can rebuild.
    Another ``seed`` gives other bytes (an upload that is not a duplicate of an earlier one)."""
    rng = random.Random(seed)
    return b"%PDF-1.7\n" + bytes(rng.randrange(256) for _ in range(4096))


def bomb_png(width: int = 10_000, height: int = 10_000, bit_depth: int = 1, rgba: bool = False) -> bytes:
    """A valid PNG declaring width x height pixels (100 MP by default) in a few KB of file:
    greyscale ``bit_depth`` 1 (black rows; ~12 KB) or 8 (white rows, a blank page; ~60 KB at
    60 MP), or with ``rgba`` 8-bit RGBA (transparent rows; 4 bytes a pixel once decoded)."""
    if rgba:
        row = b"\x00" + bytes(width * 4)
    else:
        row = b"\x00" + (bytes((width + 7) // 8) if bit_depth == 1 else b"\xff" * width)
    compressor = zlib.compressobj(1 if rgba else 9)  # level 1: 240 MB of zero rows in a second
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8 if rgba else bit_depth, 6 if rgba else 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def bomb_page(text: str, side: int = 7_745) -> Image.Image:
    """A side x side greyscale page with ``text`` at 300 dpi in its top-left corner: it compresses
    like a bomb but is not blank, so reading it runs every step (clean-up and tesseract)."""
    page = Image.new("L", (side, side), 255)
    page.paste(render_page(text), (0, 0))
    return page


#: The largest square a 60 MP limit lets through: the size of the bombs below.
BOMB_SIDE = 7_745


def bomb_tiff(frames: int = 4, side: int = BOMB_SIDE) -> bytes:
    """A multi-page 1-bit TIFF (CCITT G4) of blank side x side pages: a few KB, 60 MP a frame."""
    page = Image.new("1", (side, side), 1)
    buffer = io.BytesIO()
    page.save(buffer, format="TIFF", save_all=True, append_images=[page] * (frames - 1),
              compression="group4", dpi=(DPI, DPI))
    return buffer.getvalue()


def huge_page_pdf(size_in: float = 200.0) -> bytes:
    """An image-only PDF with one empty size_in x size_in inch page (200 in is the largest page
    PDF allows): rendered at 300 dpi it would be 3.6 gigapixels, in a file of under 1 KB."""
    return _build_pdf([("blank", "")], size=(size_in, size_in))


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first part of a file, as an interrupted transfer leaves it."""
    return data[: max(1, int(len(data) * keep))]


# --------------------------------------------------------------------------- scoring


def levenshtein(a: str, b: str) -> int:
    """Edit distance by Myers' bit-parallel algorithm (Hyyrö's form) on Python ints: a page of
    text takes milliseconds, where the textbook table takes seconds in pure Python."""
    if not a:
        return len(b)
    if not b:
        return len(a)
    masks: dict[str, int] = {}
    for index, char in enumerate(a):
        masks[char] = masks.get(char, 0) | (1 << index)
    full = (1 << len(a)) - 1
    high = 1 << (len(a) - 1)
    positive, negative, score = full, 0, len(a)
    for char in b:
        equal = masks.get(char, 0)
        vertical = equal | negative
        horizontal = (((equal & positive) + positive) ^ positive) | equal
        plus = negative | ~(horizontal | positive)
        minus = positive & horizontal
        if plus & high:
            score += 1
        elif minus & high:
            score -= 1
        plus = (plus << 1) | 1
        minus <<= 1
        positive = (minus | ~(vertical | plus)) & full
        negative = plus & vertical & full
    return score


def normalise(text: str) -> str:
    """Whitespace runs become one space: line wrapping is layout, not content."""
    return " ".join(text.split())


def cer(truth: str, text: str) -> float:
    """Character error rate of ``text`` against ``truth`` (edits / truth length, whitespace-normalised)."""
    reference = normalise(truth)
    return levenshtein(reference, normalise(text)) / max(1, len(reference))
