"""Model definitions: backbones, heads, losses, the registry and Essentia export."""
