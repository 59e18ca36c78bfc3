"""Small files that decode huge cost megabytes, not gigabytes: intake + OCR of each bomb, in a
fresh process, grows that process's peak memory by less than the issue's bound (a resource
limit measured by the kernel's high-water mark, not a timing). bench/memory.py prints the
figures for the whole set, against a normal page."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import docgen
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_memory", ROOT / "bench" / "memory.py")
assert _spec is not None and _spec.loader is not None
bench_memory = importlib.util.module_from_spec(_spec)
sys.modules["bench_memory"] = bench_memory
_spec.loader.exec_module(bench_memory)

#: Issue 8: any accepted upload grows the server by at most this much.
BOUND_MB = 400


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    directory = tmp_path_factory.mktemp("bombs")
    side = docgen.BOMB_SIDE
    files = {
        "png1": ("png", docgen.bomb_png(side, side, 1)),
        "png8_text": ("png", docgen.png(docgen.bomb_page("DISCHARGE SUMMARY\nMetformin 500 mg daily."))),
        "tiff4": ("tiff", docgen.bomb_tiff(frames=4)),
        "pdf_huge": ("pdf", docgen.huge_page_pdf()),
    }
    paths = []
    for name, (kind, data) in files.items():
        assert len(data) < 200_000  # each is a small upload
        path = directory / f"{name}.{kind}"
        path.write_bytes(data)
        paths.append((kind, path))
    # One fresh process for the set, its peak reset before each file (faster than four).
    return dict(zip(files, bench_memory.run_child(paths), strict=True))


@pytest.mark.parametrize("name", ["png1", "png8_text", "tiff4", "pdf_huge"])
def test_bomb_is_accepted_and_costs_less_than_the_bound(figures: dict[str, dict[str, object]],
                                                         name: str) -> None:
    result = figures[name]
    # Accepted by intake (these are all within the limits) and read to the end: a blank page is
    # "no text", the page with text in its corner is read.
    assert result["outcome"] == "error.no_text" or str(result["outcome"]).startswith("read "), result
    assert 0 < float(result["growth_mb"]) < BOUND_MB, result  # type: ignore[arg-type]
