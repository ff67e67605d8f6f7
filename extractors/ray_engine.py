"""``musiczoo extract --engine ray``: the same extraction on a Ray cluster, with Ray Data.

The output folder (its provenance, parts, incremental skip and ``summary.csv``) is :func:`.extract.extract`'s;
this engine only embeds its files elsewhere. The files to embed become a dataset of one file per block. Ray
tasks decode them: a decoder that crashes its worker costs that file, whose task is retried and then given
up (an error row). An actor pool holds the model and computes mel and embeddings, one actor per GPU where
the cluster has GPUs. The driver ships the model through the object store (the nodes need no copy), and
writes each ``.npy`` and row as it arrives, so only the inputs must be at the same path on every node
(shared storage); the output folder is the driver's.
"""

import contextlib
import hashlib
import json
import logging
import socket
import tempfile
import warnings
from pathlib import Path

import numpy as np

from musiczoo.extractors.audio import SAMPLE_RATE
from musiczoo.extractors.extract import (
    FILE_ERRORS,
    MODEL_ERRORS,
    decode,
    embed_audio,
    extract,
    model_failure,
    save_embeddings,
)
from musiczoo.extractors.graph import Graph, predictor
from musiczoo.fileio import atomic_write
from musiczoo.runtime import quiet_tensorflow_start

INSTALL = 'pip install "musiczoo[ray]"'
RAY_PORT = 6379  # the head's port when an address names none (``ray start --head``'s default)
CONNECT_TIMEOUT = 10.0  # seconds to reach a cluster's head before the address is given up
# Retries of a file's decoding task whose worker died (a crashing decoder, a node lost): Ray Data's default is
# forever. Remote arguments unlike the actors' also keep decoding a stage of its own (Ray Data fuses a map into
# the next when they match: a crash would then cost an actor and its model, and be retried forever).
RETRIES = 2
MODEL_CACHE = Path(tempfile.gettempdir()) / "musiczoo-models"  # on each node: the shipped models, by SHA-256


@contextlib.contextmanager
def _quiet_ray_data():
    """Ray Data's console lines (plan, start, end, progress notices) hidden meanwhile; its errors kept."""
    logger = logging.getLogger("ray.data")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ImportError(f"--engine ray needs Ray Data: {INSTALL}") from None
    return ray


def _check_reachable(address, timeout):
    """ConnectionError naming ``address`` when nothing answers there within ``timeout`` seconds.

    ``ray.init`` itself retries an unreachable head for minutes.
    """
    host, _, port = address.removeprefix("ray://").rpartition(":")
    host, port = (host, int(port)) if port.isdigit() else (address.removeprefix("ray://"), RAY_PORT)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        reason = "timed out" if isinstance(error, TimeoutError) else error.strerror or error
        raise ConnectionError(
            f"no Ray cluster at {address} ({reason} within {timeout:g} s): start its head with "
            f"`ray start --head --port {port}` there, or give the address that `ray start --head` printed"
        ) from None


def _shipment(model):
    """``(digest, name, bytes)`` of the graph file the back-end reads: the ``.onnx`` for onnx, else the ``.pb``."""
    path, *_, backend = model
    needed = Path(path).with_suffix(".onnx" if backend == "onnx" else ".pb")
    needed = needed if needed.is_file() else Path(path)  # else the back-end says what is missing
    data = needed.read_bytes()
    return hashlib.sha256(data).hexdigest()[:16], needed.name, data


def _unpack(digest, name, data):
    """The shipped graph file in this node's cache (written by the first actor there); returns its path."""
    path = MODEL_CACHE / digest / name
    if not path.is_file():
        atomic_write(path, data)
    return path


def _decode_row(row):
    """A task's part: ``row["source"]`` decoded; an unusable file becomes the row's ``error``."""
    try:
        audio, warning = decode(row["source"])
    except FILE_ERRORS as error:
        where = "" if Path(row["source"]).exists() else f" on node {socket.gethostname()} (each node must see it)"
        return {"index": row["index"], "audio": np.zeros(0, np.float32), "warning": "", "error": f"{error}{where}"}
    return {"index": row["index"], "audio": audio, "warning": warning or "", "error": ""}


class _Embedder:
    """An actor of the pool: the shipped model, loaded once; mel and embeddings of the decoded files."""

    def __init__(self, shipped, model):
        import ray

        quiet_tensorflow_start()
        _, metadata, node, batch_size, backend = model
        self.failure = None
        try:
            self.graph = Graph(_unpack(*ray.get(shipped)), json.loads(metadata))
            self.predict = predictor(self.graph, node, batch_size, backend)
        except MODEL_ERRORS as error:
            self.failure = model_failure(error)["fatal"]

    def _embed(self, audio, error):
        """``(embeddings, error)`` of one decoded file."""
        if not error and not self.failure:
            try:
                return embed_audio(audio, self.graph, self.predict), ""
            except FILE_ERRORS as failure:
                error = str(failure)
        return np.zeros((0, 0), np.float32), error

    def __call__(self, batch):
        embedded = [self._embed(audio, error) for audio, error in zip(batch["audio"], batch["error"])]
        return {
            "index": batch["index"],
            "embeddings": [embeddings for embeddings, _ in embedded],
            "duration_s": [audio.size / SAMPLE_RATE for audio in batch["audio"]],
            "warning": batch["warning"],
            "error": [error for _, error in embedded],
            "fatal": [self.failure or ""] * len(embedded),
        }


class RayRunner:
    """Embeds :func:`.extract.extract`'s jobs on the connected Ray cluster: ``runner(jobs)`` yields
    ``(job, ok, outcome)`` as the files finish, in any order, as :func:`~musiczoo.isolation.run_isolated`.

    ``actors``: model actors (default: one per GPU, else one per two CPUs); ``decode_cpus`` and
    ``actor_cpus``: CPUs a decoding task and an actor reserve; ``gpus``: GPUs per actor (default 1 where
    the cluster has GPUs, else 0).
    """

    def __init__(self, actors=None, decode_cpus=1.0, actor_cpus=1.0, gpus=None):
        self.actors, self.decode_cpus, self.actor_cpus, self.gpus = actors, decode_cpus, actor_cpus, gpus

    def _pool(self, ray):
        """``(actors, gpus per actor)`` on this cluster."""
        resources = ray.cluster_resources()
        cluster_gpus = int(resources.get("GPU", 0))
        gpus = (1 if cluster_gpus else 0) if self.gpus is None else self.gpus
        actors = self.actors or (cluster_gpus // max(gpus, 1) if gpus else int(resources.get("CPU", 1) // 2))
        return max(1, actors), gpus

    def __call__(self, jobs):
        if not jobs:
            return
        ray = _ray()
        model = jobs[0][1][0]
        actors, gpus = self._pool(ray)
        actors = min(actors, len(jobs))
        shipped = ray.put(_shipment(model))  # held here while the run lasts: an actor restarted later reads it
        items = [{"index": index, "source": source} for index, (_, (_, source, _)) in enumerate(jobs)]
        dataset = ray.data.from_items(items, override_num_blocks=len(items))  # one file per block: a crash costs it
        dataset.context.max_errored_blocks = -1  # a file given up is an error row, not the run's end
        dataset.context.enable_progress_bars = False  # extract's bar counts the files
        with warnings.catch_warnings():  # max_retries has no named parameter yet (Ray 2.60), only **ray_remote_args
            warnings.simplefilter("ignore", DeprecationWarning)
            decoded = dataset.map(_decode_row, num_cpus=self.decode_cpus, max_retries=RETRIES)
        embedded = decoded.map_batches(
            _Embedder,  # restarted, and its files retried, when it dies (Ray Data's default)
            fn_constructor_args=(shipped, model),
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=self.actor_cpus,
            num_gpus=gpus,
        )
        pending = dict(enumerate(jobs))
        with _quiet_ray_data():
            yield from self._outcomes(embedded, pending)
        for job, _ in pending.values():
            yield job, False, f"its Ray task failed {1 + RETRIES} times"

    @staticmethod
    def _outcomes(embedded, pending):
        """``(job, True, outcome)`` of each file the cluster returns, popped from ``pending``."""
        for row in embedded.iter_rows():
            if row["index"] not in pending:
                continue  # a block computed again after a node was lost
            job, (_, _, target) = pending.pop(row["index"])
            if row["fatal"]:
                yield job, True, {"fatal": row["fatal"]}
            elif row["error"]:
                yield job, True, {"status": "error", "error": row["error"]}
            else:
                yield job, True, save_embeddings(target, row["duration_s"], row["embeddings"], row["warning"] or None)


def connect(address=None, timeout=CONNECT_TIMEOUT):
    """Join the Ray cluster at ``address`` (its head's ``host:port``, ``auto``, ``ray://host:port``) or, with
    None, start one on this machine; True when this call connected (its caller then shuts Ray down), False
    when this process is connected already (``ray.init`` was called: that connection is used as is).

    An unreachable address is a ConnectionError naming it within ``timeout`` seconds.
    """
    ray = _ray()
    if ray.is_initialized():
        return False
    if address and address != "auto":
        _check_reachable(address, timeout)
    options = {"address": address} if address else {"include_dashboard": False}
    ray.init(**options, log_to_driver=False, logging_level="warning")
    return True


def extract_on_ray(
    model, inputs, out_dir, address=None, actors=None, decode_cpus=1.0, actor_cpus=1.0, gpus=None, **options
):
    """:func:`.extract.extract` with its files embedded on the Ray cluster at ``address`` (see :func:`connect`).

    ``actors``, ``decode_cpus``, ``actor_cpus``, ``gpus``: the resources of :class:`RayRunner`;
    ``options``: those of :func:`.extract.extract` (``node``, ``batch_size``, ``backend``, ``shard``...).
    """
    runner = RayRunner(actors, decode_cpus, actor_cpus, gpus)
    ray, connected = _ray(), connect(address)
    try:
        return extract(model, inputs, out_dir, runner=runner, **options)
    finally:
        if connected:
            ray.shutdown()
