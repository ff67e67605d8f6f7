"""YAML config files, read one way by every command: a mapping, relative paths, ``KEY=VALUE`` overrides."""

from pathlib import Path

import yaml


class ConfigError(ValueError):
    """A config that cannot be used, with the reason."""


def read_config(path, keys=None, paths=()):
    """The mapping in the YAML file ``path`` (empty file: ``{}``).

    ``keys``: the keys allowed (none: any). ``paths``: the keys whose values, a path or a list of
    paths, are relative to the file's folder; ``a.b`` names key ``b`` of the mapping under ``a``.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config not found: {path}")
    config = yaml.safe_load(path.read_text()) or {}
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: a config is a YAML mapping of option names to values")
    unknown = sorted(set(config) - set(keys)) if keys is not None else []
    if unknown:
        raise ConfigError(f"{path}: unknown keys {', '.join(unknown)}; valid: {', '.join(sorted(keys))}")
    for dotted in paths:
        *parents, key = dotted.split(".")
        section = config
        for parent in parents:
            section = section.get(parent) if isinstance(section, dict) else None
        value = section.get(key) if isinstance(section, dict) else None
        if isinstance(value, str):
            section[key] = str(path.parent / value)
        elif isinstance(value, list):
            section[key] = [str(path.parent / item) for item in value]
    return config


def parse_overrides(items):
    """``["epochs=2", "backbone={width: 0.25}"]`` -> ``{"epochs": 2, "backbone": {"width": 0.25}}`` (YAML values)."""
    overrides = {}
    for item in items or []:
        key, separator, value = item.partition("=")
        if not separator:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides
