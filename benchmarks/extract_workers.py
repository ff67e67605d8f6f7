"""Extraction with K worker processes: ``extract(..., workers=K)`` for K = 0 (in process), 1 and 2.

Run from anywhere (``../shared/data`` must sit beside the repository)::

    python benchmarks/extract_workers.py                           # 120 s of audio in 8 files
    python benchmarks/extract_workers.py --seconds 40 --files 4    # quick check

The real clips are cut into ``--files`` wav files (as in ``extract_speed.py``) and embedded with the
reference MusiCNN graph ``genre_dortmund_musicnn_msd.pb`` into a fresh folder per run, end to end:
worker start-up (a new interpreter, Essentia and the graph per worker), decoding, inference,
``.npy`` files and the summary. K = 0 runs in this process, without the isolation; its time less
K = 1's is the price of the isolation. The table gives the best of ``--repeats`` runs, x real time
and the speed-up over one worker. The script exits 0 whatever the result.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from extract_speed import MUSICNN_GRAPH, make_audio

from musiczoo.extractors.extract import extract


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="total audio in seconds (default 120)")
    parser.add_argument("--files", type=int, default=8, help="wav files the audio is split into (default 8)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per K; the best is reported (default 1)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="the K to time (default 0 1 2)")
    args = parser.parse_args(argv)
    if not MUSICNN_GRAPH.is_file():
        raise SystemExit(f"needs {MUSICNN_GRAPH}")
    with tempfile.TemporaryDirectory() as scratch:
        files = make_audio(args.seconds, args.files, Path(scratch))
        best = {}
        for run in range(args.repeats):
            for workers in args.workers:
                start = time.perf_counter()
                out = Path(scratch) / f"out-{workers}-{run}"
                summary = extract(MUSICNN_GRAPH, files, out, workers=workers, progress=False)
                seconds = time.perf_counter() - start
                assert (summary.status == "ok").all(), summary.error.dropna().tolist()
                best[workers] = min(seconds, best.get(workers, seconds))
    print(f"\n{args.seconds:g} s of audio in {args.files} files, {os.cpu_count()} CPUs, MusiCNN (Essentia back-end)")
    print(f"{'workers':>8} {'seconds':>8} {'x real time':>12} {'speed-up vs 1':>14}")
    for workers, seconds in best.items():
        speed_up = f"{best[1] / seconds:.2f}" if 1 in best else "-"
        label = f"{workers} (in process)" if workers == 0 else str(workers)
        print(f"{label:>8} {seconds:8.1f} {args.seconds / seconds:12.1f} {speed_up:>14}")
    return 0


if __name__ == "__main__":
    main()
