"""YAML config files, read one way by every command: a mapping, relative paths, ``KEY=VALUE`` overrides.

Every problem is a :class:`ConfigError` that names the file or the key, and what is expected.
"""

import difflib
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
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (a config is a YAML text file)") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(error)}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: a config is a YAML mapping of option names to values")
    if keys is not None:
        check_keys(config, keys, where=f"{path}: ")
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
        key = key.strip()
        if not separator or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            overrides[key] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            raise ConfigError(f"--set {key}: {value!r} is not a YAML value: {_yaml_problem(error)}") from None
    return overrides


def check_keys(config, keys, where="", prefix=""):
    """Raise a :class:`ConfigError` naming the keys of ``config`` not in ``keys``, each with the closest valid one.

    ``prefix`` (``"backbone."``) names the section in the message, ``where`` (``"FILE: "``) its source.
    """
    unknown = [key for key in config if key not in keys]
    if unknown:
        names = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), list(map(str, keys)), n=1)
            names.append(f"{prefix}{key}" + (f" (did you mean {prefix}{close[0]}?)" if close else ""))
        raise ConfigError(f"{where}unknown keys {', '.join(names)}; valid: {', '.join(sorted(map(str, keys)))}")


def check_types(config, defaults, prefix=""):
    """Raise a :class:`ConfigError` naming the first key whose value is not of its default's type.

    A default of None takes any value; an int value passes for a float default; mappings are
    checked key by key (keys missing from the defaults are not checked).
    """
    for key, default in defaults.items():
        if default is None or key not in config:
            continue
        value = config[key]
        if isinstance(default, dict) and isinstance(value, dict):
            check_types(value, default, f"{prefix}{key}.")
        elif not _is_like(value, default):
            raise ConfigError(
                f"{prefix}{key}: expected {_KINDS.get(type(default), type(default).__name__)}, got {value!r}"
            )


_KINDS = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    dict: "a mapping",
    list: "a list",
}


def _is_like(value, default):
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def _yaml_problem(error):
    """A YAML error in one line: its problem and where (``line L, column C``)."""
    mark = getattr(error, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    return f"{getattr(error, 'problem', None) or error}{where}"


def config_changes(old, new, prefix=""):
    """``{key: (old value, new value)}`` where two configs differ, keys dotted inside mappings (``backbone.width``)."""
    changes = {}
    for key in dict.fromkeys([*old, *new]):
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            changes |= config_changes(before, after, f"{prefix}{key}.")
        elif before != after:
            changes[f"{prefix}{key}"] = (before, after)
    return changes
