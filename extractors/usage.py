"""How to run a model: the Essentia call its metadata names, ready to paste, and the musiczoo command.

The Python is the one Essentia's documentation shows for its own models: MonoLoader at the
model's sample rate, then the wrapper of ``inference.algorithm`` with ``graphFilename`` and the
output node, plus only what :func:`~musiczoo.zoo.families.wrapper_arguments` says the graph
needs. A classifier head runs on the embeddings of its embedding model, which comes first.
"""

import json
import shlex
from pathlib import Path

from musiczoo.extractors.graph import find_output, node_name
from musiczoo.zoo.families import AUDIO_WRAPPERS, wrapper_arguments

AUDIO = "audio.wav"  # the file the printed code and commands read


def _call(graph_path, metadata, node):
    arguments = {"graphFilename": str(graph_path), "output": node_name(metadata, node), **wrapper_arguments(metadata)}
    listed = ", ".join(f"{key}={json.dumps(value)}" for key, value in arguments.items())
    return f"{metadata['inference']['algorithm']}({listed})"


def _width(metadata, purpose):
    return find_output(metadata, purpose)["shape"][-1]


def _patching_note(metadata):
    """A comment when ``musiczoo extract`` cuts other patches than the call (the trained length, its hop)."""
    inference = metadata["inference"]
    family = AUDIO_WRAPPERS[inference["algorithm"]]
    called = {"patchSize": family.patch_size, "patchHopSize": family.patch_hop_size} | wrapper_arguments(metadata)
    zoo = {
        "patchSize": inference.get("patch_size") or family.patch_size,
        "patchHopSize": inference.get("patch_hop_size") or family.patch_hop_size,
    }
    differ = ", ".join(f"{key}={value}" for key, value in zoo.items() if called[key] != value)
    return [f"# `musiczoo extract` cuts the trained patches: add {differ} for the same rows"] if differ else []


def essentia_snippet(graph_path, metadata, embedding=None):
    """Python that runs the model on ``audio.wav``.

    ``embedding``: ``(graph_path, metadata)`` of a head's embedding model, which runs first.
    """
    audio_path, audio_metadata = embedding or (graph_path, metadata)
    algorithms = sorted({"MonoLoader", audio_metadata["inference"]["algorithm"], metadata["inference"]["algorithm"]})
    rate = audio_metadata["inference"]["sample_rate"]
    lines = [
        f"from essentia.standard import {', '.join(algorithms)}",
        "",
        f'audio = MonoLoader(filename="{AUDIO}", sampleRate={rate}, resampleQuality=4)()',
    ]
    if embedding:
        classes = _width(metadata, "predictions")
        lines += [
            f"embedding_model = {_call(audio_path, audio_metadata, 'embeddings')}",
            "embeddings = embedding_model(audio)",
            f"model = {_call(graph_path, metadata, 'predictions')}",
            f"predictions = model(embeddings)  # (patches, {classes}): the .json's classes",
        ]
    else:
        lines += [
            f"model = {_call(graph_path, metadata, 'embeddings')}",
            f"embeddings = model(audio)  # (patches, {_width(metadata, 'embeddings')})",
        ]
        if find_output(metadata, "predictions"):
            lines.append(
                f'# output="{node_name(metadata, "predictions")}": the predictions '
                f"({_width(metadata, 'predictions')} per patch)"
            )
    return "\n".join(lines + _patching_note(audio_metadata))


def musiczoo_commands(model, metadata):
    """The musiczoo commands that run ``model`` (a registry name, a ``.pb`` or a ``.onnx``) on ``audio.wav``."""
    model = shlex.quote(str(model))
    if metadata["inference"]["algorithm"] not in AUDIO_WRAPPERS:  # a head, on its embedding model's output
        return f"musiczoo predict {model} {AUDIO}"
    commands = [f"musiczoo extract {model} {AUDIO} -o embeddings"]
    if metadata.get("classes") or metadata.get("type") == "auto-tagging":  # a tagger (pretrained: classes on import)
        commands.append(f"musiczoo tag {AUDIO} --model {model}")
    return "\n".join(commands)


def usage(model, graph_path, metadata, embedding=None):
    """Both, as ``models show`` prints them: an ``# Essentia`` block, then a ``# musiczoo`` block.

    A model given as its ``.onnx`` is called in Essentia through the ``.pb`` beside it, if it has one.
    """
    frozen = Path(graph_path).with_suffix(".pb")
    if Path(graph_path).suffix == ".onnx" and not frozen.is_file():
        snippet = f"# none: {frozen.stem} is an ONNX-only export (--format both writes the .pb Essentia loads)"
    else:
        snippet = essentia_snippet(frozen, metadata, embedding)
    return f"# Essentia\n{snippet}\n\n# musiczoo\n{musiczoo_commands(model, metadata)}\n"
