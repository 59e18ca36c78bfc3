"""A returning patient: history seeded with the real ``emit_progress`` (DB rows + Redis stream),
and what their /patient page pulls over the Reflex websocket (tests/browser/test_page_weight.py,
bench/page_weight.py).

The seed runs as a subprocess inside the tree and environment of the app under test (its
database, its Redis prefix), so the bench can seed an older commit's tree the same way.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

SEED_SCRIPT = """
import secrets, sys
from medupload.db import session_scope
from medupload.models import Document
from medupload.progress.emitter import emit_progress
from medupload.progress.stages import Stage
patient_id, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    with session_scope() as session:
        doc = Document(patient_id=patient_id, filename=f"lab-report-{i:02d}.pdf",
                       content_type="application/pdf", size=52_000, sha256=secrets.token_hex(32),
                       storage_path=f"/nonexistent/{secrets.token_hex(8)}", page_count=2)
        session.add(doc)
        session.flush()
        doc_id = doc.id
    emit_progress(doc_id, Stage.UPLOAD_RECEIVED, "upload.received")
    emit_progress(doc_id, Stage.OCR_STARTED, "ocr.started")
    emit_progress(doc_id, Stage.OCR_COMPLETE, "ocr.done", numbers={"pages": 2})
    emit_progress(doc_id, Stage.ANALYSIS_STARTED, "analysis.started")
    emit_progress(doc_id, Stage.ANALYSIS_COMPLETE, "analysis.done", numbers={"facts": 7})
    emit_progress(doc_id, Stage.MATCHING_COMPLETE, "matching.done",
                  numbers={"satisfied": 1, "requirements": 3})
"""


def seed_processed_documents(python: str, tree: Path, env: dict[str, str], patient_id: str,
                             count: int) -> None:
    """``count`` processed documents (six events each) for ``patient_id``."""
    subprocess.run([python, "-c", SEED_SCRIPT, patient_id, str(count)], cwd=tree, env=env, check=True,
                   timeout=300)


class FrameCounter:
    """Bytes and frames the page receives over its websockets (``page.on("websocket")``)."""

    def __init__(self, page: object) -> None:
        self.bytes = 0
        self.frames = 0
        self.last = time.monotonic()
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))  # type: ignore[attr-defined]

    def _frame(self, payload: str | bytes) -> None:
        self.bytes += len(payload.encode() if isinstance(payload, str) else payload)
        self.frames += 1
        self.last = time.monotonic()

    def reset(self) -> None:
        self.bytes = self.frames = 0
        self.last = time.monotonic()

    def wait_for_cards(self, page: object, count: int, quiet: float, started: float) -> float:
        """Wait until ``count`` cards show (returns ms since ``started``), then for a quiet socket."""
        page.wait_for_function(  # type: ignore[attr-defined]
            f"() => document.querySelectorAll('[data-testid^=\"document-d_\"]').length >= {count}",
            timeout=60_000, polling=20,
        )
        cards_ms = (time.monotonic() - started) * 1000
        while time.monotonic() - self.last < quiet:
            page.wait_for_timeout(200)  # type: ignore[attr-defined]
        return cards_ms
