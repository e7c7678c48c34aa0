"""The one way outputs reach a folder other programs read (GIS exports, public extracts): written whole
into a hidden temporary folder inside the target, then each entry renamed into place.

A reader therefore never opens a half-written file: every entry appears in one rename, complete, and an
entry of the same name is replaced (a folder, such as a FileGDB, is swapped: the old one renamed aside,
the new one renamed in, the old one deleted). Entries of the target that this write does not produce are
left as they are. If writing fails, nothing is moved and the temporary folder is deleted; a process killed
mid-write leaves only a hidden `.sara-<label>-*` folder beside the untouched earlier outputs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Staging:
    path: Path                                            # write everything here
    written: list[Path] = field(default_factory=list)     # the target paths, filled when the block ends


def _move_into_place(src: Path, dst: Path) -> None:
    if dst.is_dir() and not dst.is_symlink():
        old = dst.parent / f".old-{dst.name}-{os.getpid()}"
        os.replace(dst, old)  # a folder cannot be replaced in one step: swap, then drop
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


@contextmanager
def atomic_files(out_dir: Path, label: str) -> Iterator[Staging]:
    """Stage files in a temporary folder inside out_dir (created when missing); when the block ends without
    an error, rename each staged entry into out_dir, in name order, and list the targets in `written`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Staging(Path(tempfile.mkdtemp(prefix=f".sara-{label}-", dir=out_dir)))
    try:
        yield staging
        for p in sorted(staging.path.iterdir()):
            _move_into_place(p, out_dir / p.name)
            staging.written.append(out_dir / p.name)
    finally:
        shutil.rmtree(staging.path, ignore_errors=True)
