"""musiczoo: music-audio embedding models trained, exported and served for Essentia."""

from musiczoo.runtime import essentia_standard

essentia_standard()

__version__ = "0.1.0"
