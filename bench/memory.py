"""Peak memory of intake + OCR per upload, for a set of small files that decode huge (not a test:
prints figures and ratios against a normal page from the same run).

    .venv/bin/python bench/memory.py            # the bomb set, each in a fresh process
    .venv/bin/python bench/memory.py --only png1,tiff4

Each case runs in its own fresh Python process (``--child KIND PATH``, repeatable) that imports and warms up
everything first (numpy, Pillow plugins, pdfium, HEIF, one small OCR), then runs what a worker
runs for an upload: ``intake.inspect`` and ``ocr.read_document``. The figure is the growth of that
process's peak RSS over its RSS just before the work: what the upload costs the server on top of
an idle worker. The peak is the kernel's high-water mark (``VmHWM``), reset just before the work
(``/proc/self/clear_refs``); ``ru_maxrss`` would not do, as Linux carries it over from the
parent across fork and exec. With the tesseract CLI, tesseract's own memory is in its child
process, which ends with each pass, and is not counted. tests/test_memory.py runs the same child.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

#: The accepted-upload bound from issue 8.
TARGET_MB = 400


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise KeyError(field)


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def child(files: list[tuple[str, Path]]) -> list[dict[str, object]]:
    """Run intake + OCR on each file in this (fresh) process, the peak reset before each; return
    the memory figures per file."""
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    import docgen

    from medupload.pipeline.intake import IntakeError, inspect, register_heif
    from medupload.pipeline.ocr import OcrError, read_document

    register_heif()
    warm = files[0][1].parent / f".warm-{os.getpid()}.png"
    warm.write_bytes(docgen.png(docgen.render_page("Warm up 123", size=(3.0, 1.0), margin_in=0.25)))
    read_document(warm, "png")
    warm.unlink()
    figures: list[dict[str, object]] = []
    for kind, path in files:
        _reset_peak()
        before = _status_mb("VmRSS")
        start = time.perf_counter()
        try:
            inspect(path)
            result = read_document(path, kind)
            outcome = f"read {len(result.text.split())} words"
        except (IntakeError, OcrError) as exc:
            outcome = exc.code
        figures.append({
            "growth_mb": round(max(_status_mb("VmHWM") - before, 0.0), 1),
            "baseline_mb": round(before, 1),
            "seconds": round(time.perf_counter() - start, 2),
            "outcome": outcome,
        })
    return figures


def run_child(files: list[tuple[str, Path]]) -> list[dict[str, object]]:
    """The figures of each file, measured one after the other in one fresh interpreter."""
    arguments = [part for kind, path in files for part in ("--child", kind, str(path))]
    done = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True,
                          check=False, cwd=ROOT, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"child failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cases() -> dict[str, tuple[str, str, Callable[[], bytes]]]:
    """name -> (kind, description, bytes maker)."""
    import docgen
    from PIL import Image

    side = docgen.BOMB_SIDE

    def normal() -> bytes:
        text = ("DISCHARGE SUMMARY\nMedications: metformin 500 mg twice daily, lisinopril 10 mg daily.\n"
                "Labs: hemoglobin A1c 7.2%, creatinine 0.9 mg/dL.\n") * 6
        return docgen.png(docgen.render_page(text))

    def jpeg() -> bytes:
        return docgen.jpeg(Image.new("RGB", (side, side), (250, 246, 240)), quality=70)

    def text_bomb() -> bytes:
        return docgen.png(docgen.bomb_page("DISCHARGE SUMMARY\nMedications: metformin 500 mg twice daily."))

    def heic() -> bytes:  # a 48 MP iPhone "HEIF Max" photo; encoding it takes ~30-60 s
        return docgen.heic(Image.new("RGB", (8064, 6048), (250, 246, 240)), quality=50)

    return {
        "heic48": ("heic", "HEIC 8064x6048 (48 MP phone photo; only with --heic)", heic),
        "normal": ("png", "letter page, 300 dpi, 8-bit PNG (baseline)", normal),
        "png1": ("png", f"PNG 1-bit {side}x{side}", lambda: docgen.bomb_png(side, side, 1)),
        "png8": ("png", f"PNG 8-bit grey {side}x{side}", lambda: docgen.bomb_png(side, side, 8)),
        "png8_text": ("png", f"PNG 8-bit grey {side}x{side} with text in a corner", text_bomb),
        "png_rgba": ("png", f"PNG RGBA {side}x{side}", lambda: docgen.bomb_png(side, side, rgba=True)),
        "jpeg": ("jpeg", f"JPEG colour {side}x{side}", jpeg),
        "tiff4": ("tiff", f"TIFF 4 frames of 1-bit {side}x{side}", docgen.bomb_tiff),
        "pdf_huge": ("pdf", "PDF, one 200 x 200 in image-only page", docgen.huge_page_pdf),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), action="append")
    parser.add_argument("--only", default="")
    parser.add_argument("--heic", action="store_true", help="also the 48 MP HEIC (slow to encode)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child([(kind, Path(path)) for kind, path in args.child])))
        return
    selected = cases()
    if args.only:
        selected = {name: selected[name] for name in args.only.split(",")}
    elif not args.heic:
        del selected["heic48"]
    directory = Path(tempfile.mkdtemp(prefix="medupload-membench-"))
    rows = []
    baseline = None
    for name, (kind, description, make) in selected.items():
        path = directory / f"{name}.{kind}"
        path.write_bytes(make())
        (figures,) = run_child([(kind, path)])  # a fresh process per case
        if name == "normal":
            baseline = float(figures["growth_mb"])  # type: ignore[arg-type]
        rows.append((name, description, path.stat().st_size, figures))
    print(f"cores: {os.cpu_count()}; load: {os.getloadavg()[0]:.1f}; target: growth <= {TARGET_MB} MB")
    print(f"{'case':10s} {'file':>8s} {'growth MB':>10s} {'x normal':>9s} {'s':>6s}  outcome")
    for name, description, size, figures in rows:
        growth = float(figures["growth_mb"])  # type: ignore[arg-type]
        ratio = f"{growth / baseline:8.1f}x" if baseline else "       —"
        print(f"{name:10s} {size / 1024:7.1f}K {growth:10.1f} {ratio} {figures['seconds']:6}  "
              f"{figures['outcome']}   ({description})")


if __name__ == "__main__":
    main()
