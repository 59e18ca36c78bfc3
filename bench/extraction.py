"""Extraction figures (not a test: prints numbers and ratios against a baseline from the same run).

    .venv/bin/python bench/extraction.py [--threads 4] [--labels PATH] [--baseline GIT_REF]

Each configuration runs in a fresh process, so build time and memory are its own:
- ``curated``: the curated CSVs only (the vocabulary before issue 9) - the baseline;
- ``full``: ICD-10-CM and the drug dictionary under the curated layer (what ships);
- ``packages``: the two packages used directly (import cost, and drug-named-entity-recognition's
  ``find_drugs`` on the same notes), to show why the gazetteer is generated ahead of time.

The bench uses a fresh lexicon cache directory (``MEDUPLOAD_CACHE_DIR``, see vocabulary.py), so
the configurations' builds are cold (the lexicon is built and cached); three more processes then
build the shipped pipeline from that cache (warm: what every process after the first pays), and
three with a fresh cache directory each (cold), medians printed side by side.

Per configuration: build time (imports + vocabulary + spaCy/medspaCy pipeline), RSS growth over
the interpreter, extraction p50/p95 per note over all MTSamples notes (one thread), the same notes
on ``--threads`` threads sharing one pipeline (wall time, RSS after), and the scores on the
labelled sets: the development set (tests/data/mtsamples_labels.jsonl, or --labels /
MTSAMPLES_LABELS), the held-out set (tests/data/mtsamples_heldout.jsonl) and the fresh set
(tests/data/mtsamples_fresh.jsonl, with its own note texts). The lab-report set
(tests/data/lab_reports.jsonl) is scored too.

``--baseline GIT_REF``: the NLP build of that commit's ``medupload`` (exported with ``git archive``
into a temporary directory) against this tree's, in alternating fresh processes (cold: an empty
cache directory each; warm: a cache written by one process first), medians of ``--rounds``
(default 3) each: wall, CPU and RSS growth, and the ratios. On a shared machine the
absolute figures move with the load; the ratios between configurations are the point, and CPU
time (process time for the build, thread time per note) is printed beside wall time because it
moves much less with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _rss_mb() -> float:
    """Current resident set size (Linux /proc), in MB."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _measure_extractor(with_base: bool, threads: int) -> dict[str, object]:
    import mtsamples_scoring

    rss0 = _rss_mb()
    began, began_cpu = time.perf_counter(), time.process_time()
    from medupload.pipeline.extraction import extract, nlp

    nlp(with_base)
    build = time.perf_counter() - began
    build_cpu = time.process_time() - began_cpu
    rss_built = _rss_mb()
    _, notes = mtsamples_scoring.load()
    texts = list(notes.values())

    def run(text: str) -> object:
        return extract(text, with_base=with_base)

    run(texts[0])  # first-call costs (pint, regex caches) are not per note
    seconds, cpu = [], []
    for text in texts:
        start, start_cpu = time.perf_counter(), time.thread_time()
        run(text)
        seconds.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(run, texts))
    threaded = time.perf_counter() - began
    result: dict[str, object] = {
        "build_s": build,
        "build_cpu_s": build_cpu,
        "p50_cpu_ms": 1000 * statistics.median(cpu),
        "p95_cpu_ms": 1000 * _percentile(cpu, 0.95),
        "rss_growth_mb": rss_built - rss0,
        "rss_after_threads_mb": _rss_mb() - rss0,
        "notes": len(texts),
        "p50_ms": 1000 * statistics.median(seconds),
        "p95_ms": 1000 * _percentile(seconds, 0.95),
        "mean_ms": 1000 * statistics.mean(seconds),
        "threads_wall_s": threaded,
    }
    lab_reports: dict[str, object] = {}
    for name, path in mtsamples_scoring.LAB_REPORT_SETS.items():
        if path.exists():
            reports = mtsamples_scoring.score_lab_reports(run, path=path)
            lab_reports[name] = {
                "recall": reports.recall,
                "precision": reports.precision,
                "right": reports.right,
                "labelled": reports.labelled,
                "traps": len(reports.traps),
            }
    result["lab_reports"] = lab_reports
    scores: dict[str, object] = {}
    for name, path in mtsamples_scoring.SETS.items():
        if mtsamples_scoring.missing_inputs(path) is None:
            labels, texts = mtsamples_scoring.load(path)
            tallies = mtsamples_scoring.score(labels, texts, run)
            scores[name] = {
                kind: {"recall": t.recall, "precision": t.precision, "right": t.right, "labelled": t.labelled}
                for kind, t in tallies.items()
            }
    result["scores"] = scores
    return result


def _measure_packages() -> dict[str, object]:
    import re

    import mtsamples_scoring

    rss0 = _rss_mb()
    began = time.perf_counter()
    import simple_icd_10_cm  # noqa: F401

    icd_import = time.perf_counter() - began
    rss_icd = _rss_mb()
    began = time.perf_counter()
    from drug_named_entity_recognition import find_drugs

    drug_import = time.perf_counter() - began
    rss_drug = _rss_mb()
    _, notes = mtsamples_scoring.load()
    seconds = []
    found: dict[int, set[str]] = {}
    for note_id, text in notes.items():
        tokens = re.findall(r"[A-Za-z][A-Za-z0-9-]*", text)
        start = time.perf_counter()
        drugs = find_drugs(tokens, is_ignore_case=True)
        seconds.append(time.perf_counter() - start)
        names: set[str] = set()
        for data, _, _ in drugs:
            names |= {
                part
                for part in re.split(r"\s*(?:/|,\s*and\s+|\s+and\s+|,)\s*", str(data.get("name", "")).lower())
                if part
            }
        found[note_id] = names
    result: dict[str, object] = {
        "icd_import_s": icd_import,
        "icd_rss_mb": rss_icd - rss0,
        "drug_import_s": drug_import,
        "drug_rss_mb": rss_drug - rss_icd,
        "find_drugs_p50_ms": 1000 * statistics.median(seconds),
        "find_drugs_p95_ms": 1000 * _percentile(seconds, 0.95),
    }
    if mtsamples_scoring.missing_inputs() is None:
        labels, _ = mtsamples_scoring.load()
        right = labelled = predicted = 0
        for label in labels:
            wanted = {m.lower() for m in label["medications"]}
            got = found[int(label["id"])]
            right += len(wanted & got)
            labelled += len(wanted)
            predicted += len(got)
        result["find_drugs_recall"] = right / labelled
        result["find_drugs_precision"] = right / predicted if predicted else 1.0
    return result


def _measure_build() -> dict[str, object]:
    tree = os.environ.get("MEDUPLOAD_BENCH_TREE")  # a baseline commit's medupload, exported
    if tree:
        sys.path.insert(0, tree)
    rss0 = _rss_mb()
    began, began_cpu = time.perf_counter(), time.process_time()
    from medupload.pipeline.extraction import nlp

    nlp(True)
    return {
        "build_s": time.perf_counter() - began,
        "build_cpu_s": time.process_time() - began_cpu,
        "rss_growth_mb": _rss_mb() - rss0,
        "tree": str(Path(sys.modules["medupload"].__file__ or "").parent.parent),
    }


def _child(mode: str, threads: int) -> None:
    if mode == "build":
        print(json.dumps(_measure_build()))
    elif mode == "packages":
        print(json.dumps(_measure_packages()))
    else:
        print(json.dumps(_measure_extractor(mode == "full", threads)))


def _run(mode: str, threads: int, env: dict[str, str] | None = None) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--threads", str(threads)],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--labels", help="the labelled set (default tests/data/mtsamples_labels.jsonl)")
    parser.add_argument("--baseline", metavar="GIT_REF", help="compare the NLP build with this commit's")
    parser.add_argument("--rounds", type=int, default=3, help="processes per side for --baseline")
    parser.add_argument("--child", choices=("curated", "full", "packages", "build"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.labels:
        os.environ["MTSAMPLES_LABELS"] = str(Path(args.labels).resolve())
    if args.child:
        _child(args.child, args.threads)
        return 0
    import mtsamples_scoring

    reason = mtsamples_scoring.missing_inputs()
    if reason and not Path(mtsamples_scoring.NOTES).exists():
        print(f"cannot run: {reason}")
        return 1
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores shared; absolute times move with it)")
    # One fresh cache directory per cold process (the curated run also builds the full
    # vocabulary: lab units are read from it), the full run's then serves the warm builds.
    if args.baseline:
        _compare_builds(args.baseline, args.rounds)
    cache_dirs = [tempfile.mkdtemp(prefix="medupload-bench-cache-") for _ in range(5)]
    try:
        return _report(args.threads, cache_dirs)
    finally:
        for directory in cache_dirs:
            shutil.rmtree(directory, ignore_errors=True)


def _compare_builds(ref: str, rounds: int) -> None:
    """This tree's NLP build against ``ref``'s, alternating fresh processes, cold then warm."""
    scratch = Path(tempfile.mkdtemp(prefix="medupload-bench-baseline-"))
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "medupload"], capture_output=True, check=True
        ).stdout
        (scratch / "tree").mkdir()
        subprocess.run(["tar", "-x", "-C", str(scratch / "tree")], input=archive, check=True)
        sides = {"baseline": str(scratch / "tree"), "this tree": ""}
        results: dict[tuple[str, str], list[dict[str, object]]] = {}
        for temperature in ("cold", "warm"):
            warm_dirs = {side: tempfile.mkdtemp(dir=scratch) for side in sides}
            for side, tree in sides.items():  # warm: one process writes the cache first
                if temperature == "warm":
                    _run("build", 1, _build_env(tree, warm_dirs[side]))
            for _ in range(rounds):
                for side, tree in sides.items():
                    cache = tempfile.mkdtemp(dir=scratch) if temperature == "cold" else warm_dirs[side]
                    found = _run("build", 1, _build_env(tree, cache))
                    results.setdefault((temperature, side), []).append(found)
        print(f"NLP build, {ref} (baseline) vs this tree: medians of {rounds} alternating processes")
        for temperature in ("cold", "warm"):
            base, this = results[(temperature, "baseline")], results[(temperature, "this tree")]
            cells = []
            for key, unit in (("build_s", "s wall"), ("build_cpu_s", "s CPU"), ("rss_growth_mb", "MB")):
                a = statistics.median(float(r[key]) for r in base)  # type: ignore[arg-type]
                b = statistics.median(float(r[key]) for r in this)  # type: ignore[arg-type]
                cells.append(f"{a:.2f} -> {b:.2f} {unit} (x{b / a:.2f})")
            print(f"  {temperature:<5} " + "; ".join(cells))
        print(f"  trees: {base[0]['tree']} vs {this[0]['tree']}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _build_env(tree: str, cache_dir: str) -> dict[str, str]:
    env = dict(os.environ, MEDUPLOAD_CACHE_DIR=cache_dir)
    env.pop("MEDUPLOAD_BENCH_TREE", None)
    if tree:
        env["MEDUPLOAD_BENCH_TREE"] = tree
    return env


def _report(threads: int, cache_dirs: list[str]) -> int:
    import mtsamples_scoring

    os.environ["MEDUPLOAD_CACHE_DIR"] = cache_dirs[0]
    base = _run("curated", threads)
    os.environ["MEDUPLOAD_CACHE_DIR"] = cache_dirs[1]
    full = _run("full", threads)
    warm = [_run("build", threads) for _ in range(3)]
    cold_runs = []
    for directory in cache_dirs[2:]:  # a fresh cache directory each time: the lexicon is built
        os.environ["MEDUPLOAD_CACHE_DIR"] = directory
        cold_runs.append(_run("build", threads))
    packages = _run("packages", threads)

    def row(name: str, key: str, unit: str, fmt: str = ".2f") -> None:
        a, b = float(base[key]), float(full[key])  # type: ignore[arg-type]
        ratio = f"x{b / a:.2f}" if a else "-"
        print(f"  {name:<34} curated {a:{fmt}} {unit:<3} full {b:{fmt}} {unit:<3} ratio {ratio}")

    print(f"extraction over {full['notes']} MTSamples notes (one process per configuration)")
    row("NLP build, cold (imports + pipeline)", "build_s", "s")
    row("  the same in CPU time", "build_cpu_s", "s")
    warm_wall = statistics.median(float(w["build_s"]) for w in warm)  # type: ignore[arg-type]
    warm_cpu = statistics.median(float(w["build_cpu_s"]) for w in warm)  # type: ignore[arg-type]
    cold = statistics.median(float(c["build_s"]) for c in cold_runs)  # type: ignore[arg-type]
    cold_cpu = statistics.median(float(c["build_cpu_s"]) for c in cold_runs)  # type: ignore[arg-type]
    print(
        f"  {'NLP build, cold, median of 3':<34} full {cold:.2f} s (CPU {cold_cpu:.2f} s)\n"
        f"  {'NLP build, warm (cached lexicon)':<34} full {warm_wall:.2f} s (CPU {warm_cpu:.2f} s), "
        f"median of 3 processes; ratio to cold x{warm_wall / cold:.2f}"
    )
    row("RSS growth after build", "rss_growth_mb", "MB", ".0f")
    row(f"RSS growth after {threads} threads", "rss_after_threads_mb", "MB", ".0f")
    row("extraction p50 per note", "p50_ms", "ms", ".1f")
    row("extraction p95 per note", "p95_ms", "ms", ".1f")
    row("  p50 in CPU time", "p50_cpu_ms", "ms", ".1f")
    row("  p95 in CPU time", "p95_cpu_ms", "ms", ".1f")
    row("extraction mean per note", "mean_ms", "ms", ".1f")
    row(f"all notes on {threads} threads (wall)", "threads_wall_s", "s")
    print(
        f"  targets: build <= 3 s (warm {warm_wall:.2f}), "
        f"RSS growth <= 150 MB (full {float(full['rss_growth_mb']):.0f}), "  # type: ignore[arg-type]
        f"p50 <= 50 ms (full {float(full['p50_ms']):.1f})"  # type: ignore[arg-type]
    )
    for name, path in mtsamples_scoring.SETS.items():
        if name not in full["scores"]:  # type: ignore[operator]
            print(f"{name} labelled set: not scored ({mtsamples_scoring.missing_inputs(path)})")
            continue
        print(f"{name} labelled set (recall / precision; assertions: share right):")
        for kind, figures in full["scores"][name].items():  # type: ignore[index]
            before = base["scores"][name][kind]  # type: ignore[index]
            print(
                f"  {kind:<17} curated {before['recall']:.3f} / {before['precision']:.3f}   "
                f"full {figures['recall']:.3f} / {figures['precision']:.3f}   "
                f"({figures['right']}/{figures['labelled']})"
            )
    for name, lab_after in full["lab_reports"].items():  # type: ignore[union-attr]
        lab_before = base["lab_reports"][name]  # type: ignore[index]
        file = mtsamples_scoring.LAB_REPORT_SETS[name].name
        print(
            f"lab {name} ({file}): curated {lab_before['recall']:.3f} / {lab_before['precision']:.3f}   "
            f"full {lab_after['recall']:.3f} / {lab_after['precision']:.3f}   "
            f"({lab_after['right']}/{lab_after['labelled']}, {lab_after['traps']} from no-result text)"
        )
    print("the packages used directly (why the gazetteer is generated ahead of time):")
    p = packages
    print(
        f"  simple-icd-10-cm import {p['icd_import_s']:.2f} s, +{p['icd_rss_mb']:.0f} MB; "
        f"drug-named-entity-recognition import {p['drug_import_s']:.2f} s, +{p['drug_rss_mb']:.0f} MB"
    )
    line = f"  find_drugs p50 {p['find_drugs_p50_ms']:.1f} ms, p95 {p['find_drugs_p95_ms']:.1f} ms per note"
    if "find_drugs_recall" in p:
        line += (
            f"; ingredient recall {p['find_drugs_recall']:.3f}, precision {p['find_drugs_precision']:.3f}"
            " on the labelled set (raw dictionary, no guards or curated layer)"
        )
    print(line)
    print(f"peak RSS of this parent: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
