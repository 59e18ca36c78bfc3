"""Page images for tesseract, in bounded memory: decode, shrink, clean up, binarise.

A small file can decode huge (a 15 KB PNG of 7,745 x 7,745 is 60 MB of pixels, 240 MB in RGBA),
and whole-page float arrays multiply that again. So every page is first brought down to what
tesseract needs — at most ``OCR_MAX_PIXELS`` (a letter or A4 page at 300 dpi passes untouched;
bigger pages are scaled down) in 8-bit greyscale — before any other work: JPEGs are decoded
already scaled down (``draft``), other images are reduced right after decoding, in the smallest
mode that holds them. The clean-up after that (median, lighting, threshold) runs on uint8/uint16
bands of rows, never on float copies of the page. Plain functions on plain data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageFilter, ImageOps

#: The most pixels a page is read at: 10 MP is a US legal page at ~280 dpi, letter/A4 at 300.
OCR_MAX_PIXELS = 10_000_000
#: Images whose longer side is shorter than this are upscaled: tesseract wants tall letters.
MIN_LONG_SIDE = 2000
#: Downscaling first reduces by the whole factor (a box average), then Lanczos for the rest:
#: half the time of Lanczos with Pillow's "fair" gap of 3 on a 60 MP page (0.57 vs 1.08 s).
REDUCING_GAP = 1.0
#: Rows per band in the clean-up: bounds the temporary arrays to a few MB whatever the page.
BAND_ROWS = 256

# EXIF Orientation -> the transpose that makes the pixels upright (as ImageOps.exif_transpose).
_EXIF_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def target_size(width: float, height: float, max_pixels: int = OCR_MAX_PIXELS) -> tuple[int, int]:
    """The size a width x height page is read at: unchanged if within max_pixels, else scaled down."""
    if width * height <= max_pixels:
        return round(width), round(height)
    factor = math.sqrt(max_pixels / (width * height))
    return max(1, int(width * factor)), max(1, int(height * factor))


def page_from_frame(image: Image.Image) -> Image.Image:
    """The current frame of an opened image as an upright 8-bit greyscale page of at most
    OCR_MAX_PIXELS. Decoding happens here; the caller should close ``image`` straight after, so
    the full-size pixels are freed before the page is read."""
    size = target_size(*image.size)
    if image.format == "JPEG" and size != image.size:
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale, in greyscale: the full image never exists.
        image.draft("L", size)
    image.load()
    orientation = image.getexif().get(0x0112, 1)
    page = _small_grey(image, target_size(*image.size))
    transpose = _EXIF_TRANSPOSE.get(orientation)
    if transpose is not None:
        return page.transpose(transpose)
    # A small grey image comes back as itself: copy it, so closing the file cannot take it away.
    return page.copy() if page is image else page


def heic_page(heif: Any) -> Image.Image:
    """The page of a decoded HEIC (``intake.decode_heic``) as 8-bit greyscale of at most
    OCR_MAX_PIXELS: converted from libheif's RGB buffer band by band (ITU-R 601 luma, alpha on
    white), so no 4-byte Pillow copy of a 48 MP photo is made. libheif has already turned it."""
    width, height = heif.size
    channels = 4 if heif.mode == "RGBA" else 3
    raw = np.frombuffer(heif.data, dtype=np.uint8).reshape(height, heif.stride)
    grey = np.empty((height, width), dtype=np.uint8)
    for top in range(0, height, BAND_ROWS):
        band = raw[top:top + BAND_ROWS, :width * channels].reshape(-1, width, channels).astype(np.uint16)
        luma = (band[..., 0] * 77 + band[..., 1] * 150 + band[..., 2] * 29) >> 8
        if channels == 4:
            alpha = band[..., 3]
            luma = (luma * alpha + 255 * (255 - alpha)) // 255
        grey[top:top + BAND_ROWS] = luma
    page = Image.fromarray(grey, "L")
    size = target_size(width, height)
    if page.size == size:
        return page
    return page.resize(size, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)


def _small_grey(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """8-bit greyscale at ``size``; transparent areas become white paper, 16/32-bit scans keep
    their range. Shrinks first where the mode allows, so no full-size copy is made in a wider mode."""
    mode = image.mode
    if mode == "P" and "transparency" in image.info:
        image = _palette_on_white(image)
    elif mode in ("1", "P"):
        image = image.convert("L")  # 1 byte a pixel, like the source; "1"/"P" only resize by nearest
    if image.size != size:
        # Pillow's reduce() has no 16-bit greyscale: those take Lanczos all the way.
        gap = None if image.mode.startswith("I;16") else REDUCING_GAP
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=gap)
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("L")
    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float32)  # page-sized now, not upload-sized
        low, high = float(values.min()), float(values.max())
        if high <= low:
            return Image.new("L", image.size, 255)
        return Image.fromarray(((values - low) * (255.0 / (high - low))).astype(np.uint8), "L")
    return image if image.mode == "L" else image.convert("L")


def _palette_on_white(image: Image.Image) -> Image.Image:
    """A palette image with transparent entries as greyscale on white, without an RGBA copy:
    the 256 palette entries are composited, then the page is mapped through them (1 byte a pixel)."""
    swatch = Image.new("P", (256, 1))
    swatch.putdata(range(256))
    swatch.putpalette(image.getpalette() or [])
    swatch.info["transparency"] = image.info["transparency"]
    rgba = swatch.convert("RGBA")
    grey = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("L")
    levels = list(grey.getdata())
    mapped = image.copy()
    mapped.info.pop("transparency", None)
    mapped.putpalette([channel for level in levels for channel in (level, level, level)])
    return mapped.convert("L")


# --------------------------------------------------------------------------- clean-up


def preprocess(image: Image.Image) -> Image.Image:
    """Median filter (speckle), even out lighting, autocontrast (dim photos), Otsu threshold ->
    a 1-bit page with black ink on white paper."""
    grey = image.convert("L")
    longest = max(grey.size)
    if longest < MIN_LONG_SIDE:
        factor = min(MIN_LONG_SIDE / longest, math.sqrt(OCR_MAX_PIXELS / (grey.width * grey.height)))
        if factor > 1.05:
            size = (round(grey.width * factor), round(grey.height * factor))
            grey = grey.resize(size, Image.Resampling.LANCZOS)
    elif grey.width * grey.height > OCR_MAX_PIXELS:
        grey = grey.resize(target_size(*grey.size), Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    # No clipping cutoff: on a sparse page the darkest 1% is paper, and stretching paper grain
    # to full contrast turns it into speckle. The median filter already removed outliers.
    grey = ImageOps.autocontrast(_flatten_lighting(median3x3(grey)))
    pixels = np.asarray(grey)
    return Image.fromarray(pixels > _otsu(pixels))


def ink_fraction(binary: Image.Image) -> float:
    """The share of the smaller class of a 1-bit page: 0.0 for an empty page, white or black
    (Otsu on a uniform page puts every pixel on one side)."""
    pixels = np.asarray(binary)
    white = np.count_nonzero(pixels) / max(1, pixels.size)
    return min(white, 1.0 - white)


# Paeth's 19 compare-exchanges that leave the median of 9 values in slot 4.
_MEDIAN9_NETWORK = ((1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3),
                    (5, 8), (4, 7), (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2))


def median3x3(grey: Image.Image) -> Image.Image:
    """The same result as Pillow's ``MedianFilter(3)`` (edges replicated), 5-10x faster: a
    sorting network over numpy arrays instead of a per-pixel sort, one band of rows at a time
    (the network keeps ~20 band-sized arrays alive; whole-page ones cost 20 pages of memory)."""
    pixels = np.asarray(grey)
    height, width = pixels.shape
    out = np.empty_like(pixels)
    for top in range(0, height, BAND_ROWS):
        bottom = min(height, top + BAND_ROWS)
        # The band plus one row of context each side (replicated at the page edges).
        rows = pixels[max(0, top - 1):min(height, bottom + 1)]
        padded = np.pad(rows, ((1 if top == 0 else 0, 1 if bottom == height else 0), (1, 1)), mode="edge")
        band = bottom - top
        values = [padded[row:row + band, col:col + width] for row in range(3) for col in range(3)]
        for low, high in _MEDIAN9_NETWORK:
            a, b = values[low], values[high]
            values[low], values[high] = np.minimum(a, b), np.maximum(a, b)
        out[top:bottom] = values[4]
    return Image.fromarray(out, "L")


def _flatten_lighting(grey: Image.Image) -> Image.Image:
    """Divide by the paper's brightness so a phone photo's shadow or lamp gradient does not make
    one global threshold swallow the dark side of the page. The paper is estimated on a 1/16
    image with a max filter wider than a line of text; on an evenly lit scan this is a no-op.
    Integer arithmetic in bands of rows: value * 255 // paper fits uint16."""
    small = grey.reduce(16)
    paper = small.filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.BoxBlur(2))
    background = np.asarray(paper.resize(grey.size, Image.Resampling.BILINEAR))
    values = np.asarray(grey)
    out = np.empty_like(values)
    for top in range(0, values.shape[0], BAND_ROWS):
        rows = slice(top, top + BAND_ROWS)
        scaled = values[rows].astype(np.uint16) * 255 // np.maximum(background[rows], 1)
        out[rows] = np.minimum(scaled, 255)
    return Image.fromarray(out, "L")


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
