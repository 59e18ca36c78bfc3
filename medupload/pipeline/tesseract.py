"""The tesseract engine: one page image in, TSV words or an orientation out, within a deadline.

Two ways to run the same tesseract, chosen by ``settings.ocr_engine``:

- ``tesserocr`` (default): the library kept loaded, one API per thread (an API is not
  thread-safe; the runner reads documents in threads). No process start and no model load per
  pass: measured on bench/pipeline.py as the fastest (bench/README.md). The page deadline is
  tesseract's own cancel (``Recognize(timeout=ms)``), checked between words; layout analysis
  before it cannot be cancelled, which on a page capped at 10 MP (preprocess.OCR_MAX_PIXELS) is
  bounded at about a second. A cancelled pass's partial results are never read: tesseract can
  crash on them.
- ``cli``: one ``tesseract`` subprocess per pass, killed at the deadline, with
  ``OMP_THREAD_LIMIT=1`` (its OpenMP threads only slow it down on a shared machine). A crash
  inside tesseract then costs one pass, not the worker; kept as the fallback.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import os
import re
import shutil
import subprocess
import threading
import time
from typing import Any, Protocol

from PIL import Image

log = logging.getLogger(__name__)

TESSDATA_DIRS = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                 "/usr/share/tessdata", "/usr/local/share/tessdata")


class EngineTimeout(Exception):
    """The deadline passed before tesseract finished."""


class EngineFailed(Exception):
    """tesseract is missing, misconfigured or failed on this image."""


class Engine(Protocol):
    def read_tsv(self, binary: Image.Image, psm: str, deadline: float) -> str:
        """tesseract's TSV for the page at ``--psm psm``."""
        ...

    def orientation(self, binary: Image.Image, deadline: float) -> tuple[int, float] | None:
        """(clockwise degrees to turn the page upright, confidence), None when OSD refuses."""
        ...


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise EngineTimeout
    return remaining


def tessdata_dir() -> str:
    """Where the language data is: $TESSDATA_PREFIX, else the first Debian/Homebrew location."""
    candidates = [os.environ["TESSDATA_PREFIX"]] if os.environ.get("TESSDATA_PREFIX") else []
    for directory in [*candidates, *TESSDATA_DIRS]:
        if os.path.isfile(os.path.join(directory, "eng.traineddata")):
            return directory
    raise EngineFailed("no eng.traineddata")


# --------------------------------------------------------------------------- tesserocr


class TesserocrEngine:
    """tesseract as a library, one loaded API per thread for reading and one for OSD."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _api(self, lang: str) -> Any:
        import tesserocr

        api = getattr(self._local, lang, None)
        if api is None:
            try:
                api = tesserocr.PyTessBaseAPI(path=tessdata_dir() + "/", lang=lang)
            except RuntimeError as exc:
                raise EngineFailed(str(exc)) from exc
            setattr(self._local, lang, api)
        return api

    def read_tsv(self, binary: Image.Image, psm: str, deadline: float) -> str:
        api = self._api("eng")
        api.SetPageSegMode(int(psm))
        api.SetImage(binary)
        try:
            if not api.Recognize(timeout=max(1, int(_remaining(deadline) * 1000))):
                # Cancelled (or failed): its partial results can crash tesseract; drop them.
                raise EngineTimeout if time.monotonic() >= deadline else EngineFailed("recognize")
            return str(api.GetTSVText(0))
        finally:
            api.Clear()

    def orientation(self, binary: Image.Image, deadline: float) -> tuple[int, float] | None:
        _remaining(deadline)
        api = self._api("osd")
        api.SetPageSegMode(0)  # PSM.OSD_ONLY
        api.SetImage(binary)
        try:
            found = api.DetectOrientationScript()
        finally:
            api.Clear()
        if not found:
            return None
        # orient_deg is how far the image is turned clockwise; turning it back is the rest.
        return (360 - int(found["orient_deg"])) % 360, float(found["orient_conf"])


# --------------------------------------------------------------------------- CLI


class CliEngine:
    """One tesseract subprocess per pass, from an in-memory PNG on stdin."""

    def read_tsv(self, binary: Image.Image, psm: str, deadline: float) -> str:
        return self._run(_encode(binary), ["-l", "eng", "--psm", psm, "tsv"], deadline)

    def orientation(self, binary: Image.Image, deadline: float) -> tuple[int, float] | None:
        try:
            output = self._run(_encode(binary), ["-l", "osd", "--psm", "0"], deadline)
        except EngineFailed:
            return None  # OSD exits non-zero on pages with too few characters
        rotate = re.search(r"Rotate:\s*(\d+)", output)
        confidence = re.search(r"Orientation confidence:\s*([\d.]+)", output)
        if not rotate or not confidence:
            return None
        return int(rotate.group(1)) % 360, float(confidence.group(1))

    @staticmethod
    def _run(image: bytes, args: list[str], deadline: float) -> str:
        """The child gets OMP_THREAD_LIMIT=1 without touching this process's environment, and
        is killed at the deadline."""
        binary = shutil.which("tesseract")
        if binary is None:
            raise EngineFailed("no tesseract binary")
        remaining = _remaining(deadline)
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            done = subprocess.run([binary, "stdin", "stdout", *args], input=image, capture_output=True,
                                  env=env, timeout=remaining, check=False)
        except subprocess.TimeoutExpired as exc:
            raise EngineTimeout from exc
        except OSError as exc:
            raise EngineFailed(str(exc)) from exc
        if done.returncode != 0:
            raise EngineFailed(f"exit {done.returncode}")
        return done.stdout.decode("utf-8", "replace")


def _encode(binary: Image.Image) -> bytes:
    buffer = io.BytesIO()
    binary.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def engine(name: str | None = None) -> Engine:
    """The engine named ``name``, else the configured one (``settings.ocr_engine``). Without the
    tesserocr package installed, the CLI: slower, but documents are still read."""
    if name is None:
        from medupload.settings import get_settings

        name = get_settings().ocr_engine
    if name == "tesserocr" and importlib.util.find_spec("tesserocr") is None:
        if "cli" not in _ENGINES:
            log.warning("tesserocr is not installed: OCR runs the tesseract CLI")
        name = "cli"
    with _ENGINES_LOCK:
        if name not in _ENGINES:
            _ENGINES[name] = TesserocrEngine() if name == "tesserocr" else CliEngine()
        return _ENGINES[name]
