"""Extraction speed: a direct Essentia call vs ``musiczoo extract`` on its three back-ends.

Run from anywhere (``../shared/data`` must sit beside the repository)::

    python benchmarks/extract_speed.py                          # 300 s of audio, 3 repeats
    python benchmarks/extract_speed.py --seconds 60 --repeats 1  # quick check

The real clips of ``../shared/data/clips`` are decoded at 16 kHz, concatenated (looped when too
short), cut to ``--seconds`` and written as ``--files`` temporary wav files. Three models embed them:
a random-init EfficientNet-B0 (``discogs_artist_embeddings-effnet``, exported on the fly), the
reference MusiCNN graph ``genre_dortmund_musicnn_msd.pb`` and the MSD_musicnn checkpoint of the
``musicnn`` wheel as musiczoo imports it (``msd-musicnn``; left out, with a note, when the wheel is
absent), each converted to ONNX beside its graph (``musiczoo export MODEL --format both``), each along
four paths:

  (a) essentia    MonoLoader(sampleRate=16000, resampleQuality=4) + the model's official Essentia
                  wrapper call (TensorflowPredictEffnetDiscogs / TensorflowPredictMusiCNN), the
                  algorithm constructed once per run and looped over the files;
  (b) extract-ess ``musiczoo.extractors.extract.extract(..., backend="essentia")``;
  (c) extract-tf  the same with ``backend="tensorflow"``;
  (d) extract-onnx the same with ``backend="onnx"`` (onnxruntime; without the ``onnx`` extra, the row
                  says how to install it).

Each time is end to end over all files: decoding, inference and, for (b) to (d), writing the
``.npy`` files and the summary. ``extract()`` loads its model on every call, so for consistency
every timed run of every path includes exactly one model construction; the process-wide one-offs
(TensorFlow start-up, first graph load, kernel/trace caches, file cache) go into one untimed
warm-up run per path. The timed runs of a model's paths are interleaved, so that load
from other processes on a shared machine falls on every path alike. The table gives the best and
median of ``--repeats`` runs, files/s, x real time and the ratio to (a) (from the best), and the total
patch count (a path that embeds a different count than (a), or fails files, is flagged and left
out of the targets). The targets, (b) within 10% of (a) and (c) no slower than
(a), are judged on the best times. The script exits 0 whatever the result.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from musiczoo.runtime import essentia_standard  # before TensorFlow (see musiczoo.runtime)
from musiczoo.extractors.audio import SAMPLE_RATE

DATA = Path(__file__).resolve().parents[2] / "shared/data"
CLIPS = DATA / "clips"
EFFNET = "discogs_artist_embeddings-effnet"
MUSICNN_GRAPH = DATA / "essentia-models/genre_dortmund_musicnn_msd.pb"


def make_audio(seconds, n_files, folder):
    """``seconds`` of the real clips at 16 kHz, split into ``n_files`` wav files in ``folder``."""
    es = essentia_standard()
    clips = sorted(CLIPS.glob("*.ogg"))
    if not clips:
        raise SystemExit(f"no clips found in {CLIPS}")
    audio = np.concatenate([es.MonoLoader(filename=str(c), sampleRate=SAMPLE_RATE, resampleQuality=4)() for c in clips])
    audio = np.resize(audio, int(seconds * SAMPLE_RATE))  # repeats the clips cyclically if too short
    files = [folder / f"part{i}.wav" for i in range(n_files)]
    for path, part in zip(files, np.array_split(audio, n_files)):
        es.MonoWriter(filename=str(path), sampleRate=SAMPLE_RATE, format="wav")(np.ascontiguousarray(part))
    return files


def paths(graph, metadata, wrapper, output, out_dir):
    """The four paths for one model: name -> ``run(files) -> (patches, failed files)``."""
    from musiczoo.extractors.extract import extract

    es = essentia_standard()

    def direct(files):
        model = getattr(es, wrapper)(graphFilename=str(graph), output=output)
        patches = 0
        for path in files:
            patches += len(model(es.MonoLoader(filename=str(path), sampleRate=SAMPLE_RATE, resampleQuality=4)()))
        return patches, 0

    def via_extract(backend):
        def run(files):  # a fresh folder each run: extract() skips the files a folder already holds
            (out_dir / backend).mkdir(parents=True, exist_ok=True)
            out = tempfile.mkdtemp(dir=out_dir / backend)
            summary = extract(str(graph), files, out, backend=backend, metadata=metadata, progress=False)
            return int(summary.patches.sum()), int((summary.status != "ok").sum())

        return run

    return {
        "(a) essentia": direct,
        "(b) extract-ess": via_extract("essentia"),
        "(c) extract-tf": via_extract("tensorflow"),
        "(d) extract-onnx": via_extract("onnx"),
    }


def with_onnx(graph, out_dir=None):
    """``graph`` with its ONNX conversion beside it (in ``out_dir``: a copy); as is when the conversion cannot run."""
    from musiczoo.zoo.convert import export_graph

    try:
        export_graph(graph, out_dir, format="both")
    except ImportError as error:  # no onnx extra: path (d) fails with the same message
        print(f"no ONNX conversion of {Path(graph).name}: {error}", file=sys.stderr)
        return graph
    return Path(out_dir or Path(graph).parent) / Path(graph).name


def measure(runs, files, repeats):
    """One untimed warm-up per path, then ``repeats`` timed rounds over the paths in turn (interleaved,
    so that load from other processes hits every path alike).

    Returns path -> (best s, median s, patches, failed files), or the error message of a path that raised.
    """
    outcome, times = {}, {path: [] for path in runs}
    for round_ in range(repeats + 1):  # round 0 is the warm-up
        for path, run in runs.items():
            if isinstance(outcome.get(path), str):
                continue
            start = time.perf_counter()
            try:
                outcome[path] = run(files)
            except Exception as error:  # report and go on: the script always exits 0
                outcome[path] = f"{type(error).__name__}: {str(error).strip()}".splitlines()[0][:160]
                continue
            if round_:
                times[path].append(time.perf_counter() - start)
    return {
        path: result if isinstance(result, str) else (min(times[path]), statistics.median(times[path]), *result)
        for path, result in outcome.items()
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + " Times, on the same real audio, a random-init "
        "EfficientNet-B0, the reference MusiCNN and the imported msd-musicnn along (a) MonoLoader + "
        "Essentia's wrapper, (b) extract(backend='essentia'), (c) extract(backend='tensorflow') and (d) "
        "extract(backend='onnx'), end to end with decoding, after one warm-up run per path; prints a table "
        "(files/s, x real time) and the speed targets.",
        epilog="Targets: (b) within 10% of (a); (c) no slower than (a). Always exits 0.",
    )
    parser.add_argument("--seconds", type=float, default=300.0, help="total audio in seconds (default 300)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed runs per path after the warm-up; best and median are reported (default 3)",
    )
    parser.add_argument("--files", type=int, default=4, help="wav files the audio is split into (default 4)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.repeats < 1 or args.files < 1:
        parser.error("--seconds must be positive, --repeats and --files at least 1")

    from musiczoo.zoo.export import export_random_init  # imports TensorFlow, after musiczoo
    from musiczoo.zoo.pretrained import import_model

    results = {}  # (model, path) -> (best s, median s, patches, failed files) or an error message
    with tempfile.TemporaryDirectory(prefix="extract_speed_") as tmp:
        tmp = Path(tmp)
        (tmp / "audio").mkdir()
        files = make_audio(args.seconds, args.files, tmp / "audio")
        models = [  # label, graph, metadata (None: beside the .pb, or known official), wrapper, output node
            (
                "EfficientNet-B0",
                with_onnx(export_random_init(EFFNET, tmp, register=False)),
                None,
                "TensorflowPredictEffnetDiscogs",
                "PartitionedCall:1",
            ),
            ("MusiCNN", with_onnx(MUSICNN_GRAPH, tmp), None, "TensorflowPredictMusiCNN", "model/dense/BiasAdd"),
        ]
        try:
            models.append(
                (
                    "msd-musicnn",
                    with_onnx(import_model("msd-musicnn", tmp, register=False)),
                    None,
                    "TensorflowPredictMusiCNN",
                    "model/dense/BiasAdd",
                )
            )
        except FileNotFoundError as error:  # the musicnn wheel is not installed
            print(f"msd-musicnn left out: {error}", file=sys.stderr)
        for label, graph, metadata, wrapper, output in models:
            print(f"timing {label} ...", file=sys.stderr, flush=True)
            runs = paths(graph, metadata, wrapper, output, tmp / "out" / label)
            results.update(((label, path), result) for path, result in measure(runs, files, args.repeats).items())

    print(f"\n{args.seconds:g} s of audio in {args.files} files; best and median of {args.repeats} timed run(s)\n")
    print(
        f"{'model':16s} {'path':16s} {'best s':>8s} {'median s':>9s} {'files/s':>8s} {'x real time':>12s} "
        f"{'ratio to (a)':>13s} {'patches':>8s}"
    )
    ratios = {}  # (model, path) -> best / best of (a), for valid runs only
    for (label, path), result in results.items():
        if isinstance(result, str):
            print(f"{label:16s} {path:16s} failed: {result}")
            continue
        fastest, median, patches, failed = result
        a = results[label, "(a) essentia"]
        ratio = fastest / a[0] if isinstance(a, tuple) else float("nan")
        problems = [f"{failed} file(s) failed"] * bool(failed)
        problems += ["patch count differs from (a)"] * (isinstance(a, tuple) and patches != a[2])
        if isinstance(a, tuple) and not problems:
            ratios[label, path[:3]] = ratio
        print(
            f"{label:16s} {path:16s} {fastest:8.2f} {median:9.2f} {args.files / fastest:8.2f} "
            f"{args.seconds / fastest:12.1f} {ratio:13.3f} {patches:8d}  {'; '.join(problems)}".rstrip()
        )

    print("\ntargets (on the best times):")
    for label in dict.fromkeys(label for label, _ in results):
        for key, target, limit in (("(b)", "within 10% of (a)", 1.10), ("(c)", "no slower than (a)", 1.0)):
            ratio = ratios.get((label, key))
            verdict = "not measured" if ratio is None else f"{'met' if ratio <= limit else 'NOT met'} ({ratio:.3f})"
            print(f"  {label:16s} {key} {target:19s} {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
