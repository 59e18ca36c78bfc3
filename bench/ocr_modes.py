"""Which tesseract page-segmentation mode (--psm) keeps reading order on our fixtures (not a test:
prints character error rate, table rows read together, and seconds per mode).

    .venv/bin/python bench/ocr_modes.py [--modes 3,4,6,11] [--engine cli|tesserocr]

Every fixture goes through the real preprocessing (``preprocess.page_from_frame`` +
``preprocess.preprocess``), then one tesseract pass per mode (the CLI unless ``--engine``). A
table row counts as "together" when its left cell and its right cell come out on the same text
line (the drug with its sig).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import docgen  # noqa: E402
from PIL import Image  # noqa: E402

from medupload.pipeline import ocr, tesseract  # noqa: E402
from medupload.pipeline.preprocess import page_from_frame, preprocess  # noqa: E402

MEDICATIONS = [
    ("insulin glargine", "22 units subcutaneously at bedtime"),
    ("metformin", "1000 mg by mouth twice daily"),
    ("lisinopril", "10 mg by mouth once daily"),
    ("atorvastatin", "40 mg by mouth at night"),
    ("aspirin", "81 mg by mouth daily"),
    ("levothyroxine", "75 mcg before breakfast"),
    ("omeprazole", "20 mg once daily"),
    ("furosemide", "40 mg every morning"),
]
SUMMARY = (
    "DISCHARGE SUMMARY\n"
    "Patient was admitted on 03/14/2024 with community-acquired pneumonia.\n"
    "Past history: type 2 diabetes mellitus, hypertension, hyperlipidemia.\n"
    "Medications: metformin 500 mg twice daily, lisinopril 10 mg daily,\n"
    "atorvastatin 40 mg at bedtime. Allergies: penicillin (rash).\n"
    "Labs: hemoglobin A1c 7.2%, creatinine 0.9 mg/dL, WBC 11.4.\n\n"
    "PLAN\nComplete a 5-day course of azithromycin 250 mg by mouth.\n"
    "Follow up with primary care in 2 weeks; repeat chest x-ray in 6 weeks."
)
SPARSE = "Hemoglobin A1c 7.2 %\nCreatinine 0.9 mg/dL\nLDL cholesterol 2.8 mmol/L"
TABLE_TRUTH = "MEDICATION LIST\n" + "\n".join(f"{left} {right}" for left, right in MEDICATIONS)


def fixtures() -> dict[str, tuple[str, Callable[[], bytes]]]:
    """name -> (ground truth, file bytes)."""
    half = {"size": (8.5, 5.0)}

    def table(gap: float) -> Callable[[], bytes]:
        page = docgen.two_column_page(MEDICATIONS, size=(8.5, 6.0), gap_in=gap)
        return lambda: docgen.phone_photo(page, rotate=1.0, blur=0.8, noise=8)

    return {
        "scan, summary": (SUMMARY, lambda: docgen.png(docgen.render_page(SUMMARY, **half))),
        "photo, skewed+noisy": (SUMMARY, lambda: docgen.phone_photo(
            docgen.render_page(SUMMARY, **half), rotate=1.5, blur=1.0, noise=25, jpeg_quality=60)),
        "photo, shadowed": (SUMMARY, lambda: docgen.phone_photo(
            docgen.render_page(SUMMARY, **half), shade=0.75, noise=6, blur=0.8)),
        "scan, sparse": (SPARSE, lambda: docgen.png(docgen.render_page(SPARSE))),
        "photo, table gap 0.6 in": (TABLE_TRUTH, table(0.6)),
        "photo, table gap 1.5 in": (TABLE_TRUTH, table(1.5)),
        "photo, table gap 2.5 in": (TABLE_TRUTH, table(2.5)),
    }


def rows_together(text: str) -> int:
    lines = text.splitlines()
    return sum(any(left in line and right in line for line in lines) for left, right in MEDICATIONS)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modes", default="3,4,6,11")
    parser.add_argument("--engine", default="cli", choices=["cli", "tesserocr"])
    args = parser.parse_args()
    modes = args.modes.split(",")
    print(f"engine: {args.engine}; cores: {os.cpu_count()}; load: {os.getloadavg()[0]:.1f}")
    print(f"{'fixture':26s}" + "".join(f"{'psm ' + m:>26s}" for m in modes))
    totals = {mode: 0.0 for mode in modes}
    for name, (truth, make) in fixtures().items():
        with Image.open(io.BytesIO(make())) as image:
            page = page_from_frame(image)
        binary = preprocess(page)
        cells = []
        for mode in modes:
            start = time.perf_counter()
            raw = tesseract.engine(args.engine).read_tsv(binary, mode, time.monotonic() + 120)
            seconds = time.perf_counter() - start
            totals[mode] += seconds
            text = ocr._assemble([(ocr._parse_tsv(raw).words, "ocr")]).text
            cell = f"CER {docgen.cer(truth, text):.3f}"
            if truth is TABLE_TRUTH:
                cell += f" rows {rows_together(text)}/{len(MEDICATIONS)}"
            cells.append(f"{cell} {seconds:4.1f}s")
        print(f"{name:26s}" + "".join(f"{c:>26s}" for c in cells))
    print(f"{'total seconds':26s}" + "".join(f"{totals[m]:25.1f}s" for m in modes))


if __name__ == "__main__":
    main()
