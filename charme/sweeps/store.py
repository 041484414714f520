"""The shard directory: one result file per finished sweep point.

``OUT.nc.shards/`` beside the output holds ``manifest.json`` (what sweep
the shards belong to) and ``point-000012.nc`` per finished point, each
written atomically (``.partial`` then rename), so a ``kill -9`` loses at
most the points in flight.  The directory goes once the combined file is
written.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from charme.errors import SpecError

MANIFEST = "manifest.json"


def shard_dir_for(output) -> Path:
    p = Path(output)
    return p.with_name(p.name + ".shards")


class ShardStore:
    """Finished points of one sweep, identified by its ``fingerprint``."""

    def __init__(self, directory: Path, manifest: dict):
        self.directory = Path(directory)
        self.manifest = manifest

    @classmethod
    def open(cls, output, manifest: dict, *, resume: bool, overwrite: bool) -> ShardStore:
        """Create the directory, or reopen it for ``resume``.

        An existing directory is reused only with ``resume`` and a matching
        fingerprint; ``overwrite`` starts afresh; otherwise it is refused so
        that no finished point is thrown away by accident.
        """
        d = shard_dir_for(output)
        if d.exists():
            old = _read_manifest(d)
            if overwrite and not resume:
                shutil.rmtree(d)
            elif not resume:
                n = len(list(d.glob("point-*.nc")))
                raise SpecError(
                    f"{d} holds {n} finished point(s) of an earlier sweep: "
                    "give --resume to continue it or --overwrite to start again"
                )
            elif old is None or old.get("fingerprint") != manifest["fingerprint"]:
                raise SpecError(
                    f"{d} belongs to a different sweep (spec, solver, options, values or "
                    "seed differ): remove it, or write to another output"
                )
            else:
                return cls(d, old)
        d.mkdir(parents=True)
        _atomic_write_text(d / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
        return cls(d, manifest)

    def path(self, index: int) -> Path:
        return self.directory / f"point-{index:06d}.nc"

    def done(self) -> set[int]:
        out = set()
        for p in self.directory.glob("point-*.nc"):
            try:
                out.add(int(p.stem.split("-")[1]))
            except (IndexError, ValueError):
                continue
        return out

    def save(self, index: int, result) -> None:
        result.write(self.path(index), overwrite=True)

    def load(self, index: int):
        from charme.results.reader import open_result

        return open_result(self.path(index))

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _read_manifest(d: Path) -> dict | None:
    try:
        return json.loads((d / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text)
    os.replace(tmp, path)
