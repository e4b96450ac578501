"""Stage settings as canonical data: sorted plain dicts, their fingerprint, and a read recorder.

Snakemake compares a rule's params by ``repr``, so settings are dicts whose keys are sorted at
every level (the key order of a YAML file must not trigger reruns) and whose ``repr`` writes a
whole number alike as an int or a float (``eps: 0`` and ``eps: 0.0`` are one setting).
``fingerprint`` hashes them the same way; models and checkpoints carry the fingerprint of the
settings that made them.

``Recorder`` wraps settings and notes every key a stage reads: the test suite runs the whole DAG
with it (``ADVPRETRAIN_RECORD_SETTINGS``) and checks that each stage reads all of its settings and
nothing else, so that a config change reruns exactly the jobs it affects.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any


class Settings(dict):
    """Canonical settings: a dict whose ``repr``, what Snakemake compares params by, does not
    tell 0 from 0.0."""

    def __repr__(self) -> str:
        return repr(comparable(self))


def canonical(value: Any) -> Any:
    """``value`` with every mapping turned into ``Settings`` with sorted keys, tuples into
    lists."""
    if isinstance(value, Mapping):
        return Settings((str(key), canonical(value[key])) for key in sorted(value, key=str))
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    return value


def comparable(value: Any) -> Any:
    """Plain data in which a float with a whole value is an int: what params and fingerprints
    compare, so a number written ``0`` or ``0.0`` is one setting."""
    if isinstance(value, Mapping):
        return {key: comparable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [comparable(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def fingerprint(section: Mapping[str, Any]) -> str:
    """A short hash of a settings mapping (key order, and 0 against 0.0, do not count); not a
    read."""
    text = json.dumps(comparable(unrecorded(section)), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plain(value: Any) -> Any:
    """The plain data of (part of) the settings, for a stage that uses all of it: under a
    ``Recorder`` every value below counts as read."""
    if isinstance(value, Recorder):
        value.log.update((*value.path, *leaf) for leaf in leaf_paths(value.data))
        return value.data
    return value


def unrecorded(value: Any) -> Any:
    """The plain data without counting it as read: for provenance and fingerprints, which
    record the settings rather than use them."""
    return value.data if isinstance(value, Recorder) else value


def leaf_paths(value: Any, prefix: tuple = ()) -> set[tuple]:
    """Paths of every non-mapping value (lists count as one value); an empty mapping is a leaf."""
    if isinstance(value, Mapping) and value:
        return {path for key, item in value.items() for path in leaf_paths(item, (*prefix, key))}
    return {prefix}


class Recorder(Mapping):
    """A read-only view of nested settings that logs the path of every value read from it.

    Reading a nested mapping returns another recorder (an empty one counts as read); iterating
    keys and ``in`` read no value.
    """

    def __init__(self, data: Mapping, path: tuple = (), log: set | None = None):
        self.data, self.path = data, path
        self.log = set() if log is None else log

    def __getitem__(self, key):
        value = self.data[key]
        path = (*self.path, key)
        if isinstance(value, Mapping) and value:
            return Recorder(value, path, self.log)
        self.log.add(path)
        return value

    def __contains__(self, key) -> bool:
        return key in self.data

    def __iter__(self) -> Iterator:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"Recorder({self.data!r})"

    def unread(self) -> set[tuple]:
        """Leaf paths of the settings that the stage never read."""
        return leaf_paths(self.data) - self.log
