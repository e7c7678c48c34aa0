"""The landing folder's rules: which files are deliveries, which may be read, and which are not ready yet.

- A source's deliveries are the files in `data/landing/<source>/` matching its `file_pattern`, less dotfiles,
  `*.part` files and the source's ready markers.
- A delivery is read only if it resolves (symlinks followed) inside `<landing>/<source>/` (the landing
  folder's real path plus the source's name) or inside an `allowed_roots` entry. Anything else is refused
  unread, with a message that names the path and the rule and never quotes the file.
- A delivery is held ("still being written") while its ready marker is missing, while its size or
  modification time changes during the load, or, for a plain CSV, while its last byte is not a line end.
- Any other file under the landing folder is listed as "not picked up (matches no pattern)".

No DuckDB and no Prefect here: transforms/warehouse/loader.py and flows/ use these functions.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from transforms.config import Settings, SourceConfig


class StillBeingWritten(Exception):
    """A delivery that is not complete yet: held, not loaded, and tried again on the next run."""


def cut(text: str, n: int) -> str:
    """The first line of `text`, at most `n` characters ("..." marks a cut). For error messages."""
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= n else line[: max(n - 3, 0)] + "..."


def ignored_name(name: str) -> bool:
    """Dotfiles and `*.part` files (a copy in progress, see copy_into_landing) are never deliveries."""
    return name.startswith(".") or name.endswith(".part")


def marker_path(src: SourceConfig, path: Path) -> Path | None:
    """The ready marker a delivery waits for: `ready_marker` with {name} (the file's name) and {stem} (its
    name less the last suffix) filled in, in the file's folder. None when the source has no marker."""
    if not src.ready_marker:
        return None
    return path.with_name(src.ready_marker.format(name=path.name, stem=path.stem))


def candidates(settings: Settings, source: str) -> tuple[list[Path], set[Path]]:
    """(deliveries, marker files) of one source in its landing folder; unordered. A delivery may be a
    symlink (even a broken one): whether it may be read is decided when it is loaded."""
    src = settings.sources[source]
    folder = settings.source_landing(source)
    if not folder.is_dir():
        return [], set()
    files = [p for p in folder.glob(src.file_pattern)
             if not ignored_name(p.name) and (p.is_file() or (p.is_symlink() and not p.is_dir()))]
    markers: set[Path] = set()
    if src.ready_marker:
        markers = {m for p in files if (m := marker_path(src, p)) is not None}
        files = [p for p in files if p not in markers]
    return files, markers


def sidecars(path: Path) -> list[Path]:
    """A shapefile's other parts beside its .shp (same stem); nothing for other files."""
    if path.suffix.lower() != ".shp" or not path.parent.is_dir():
        return []
    prefix = path.stem + "."
    return sorted(q for q in path.parent.iterdir() if q.name.startswith(prefix) and q != path)


def allowed_roots(settings: Settings, source: str) -> list[Path]:
    """Where a delivery of `source` may resolve to: the landing folder's real path plus the source's name
    (so a symlinked source folder must point into an allowed root too), and every allowed_roots entry."""
    landing = Path(os.path.realpath(settings.landing_dir)) / source
    return [landing, *(Path(os.path.realpath(settings.resolve(r))) for r in settings.whole.sara.allowed_roots)]


def refusal(settings: Settings, source: str, path: Path) -> str | None:
    """Why a delivery may not be read (a message naming the path and the rule), or None. Looks only at
    paths, never at the file's content."""
    roots = allowed_roots(settings, source)
    for part in [path, *sidecars(path)]:
        target = Path(os.path.realpath(part))
        if not any(target == r or r in target.parents for r in roots):
            return (f"{part}: resolves to {target}, outside the source's landing folder {roots[0]} and every "
                    f"allowed_roots entry; it is not read. Deliver the file itself, or list its folder in "
                    f"allowed_roots in {settings.config_path.name}")
        if not target.exists():
            return f"{part}: is a link to {target}, which does not exist"
    return None


def stamp(path: Path) -> tuple[int, int, int]:
    """(inode, size, mtime_ns): taken before a file is read and again before its load commits. A file
    replaced, grown or touched in between is still being written."""
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def unmatched_files(settings: Settings) -> list[dict]:
    """Files under the landing folder that no source picks up: in a source's folder but matching no
    file_pattern, at the top of landing, or in a folder no source is configured for. Dotfiles (and dot
    folders), `*.part` files, ready markers and a picked-up shapefile's sidecars are left out.
    Each: {"folder", "path" (relative to the landing folder), "bytes", "modified_at"}, sorted by path."""
    whole = settings.whole
    root = whole.landing_dir
    if not root.is_dir():
        return []
    claimed: set[Path] = set()
    walk = [root]
    for source in whole.sources:
        files, markers = candidates(whole, source)
        claimed.update(files, markers)
        for p in files:
            claimed.update(sidecars(p))
        folder = whole.source_landing(source)
        if folder.is_symlink() and folder.is_dir():  # os.walk does not follow links below its top
            walk.append(folder)
    found: dict[Path, dict] = {}
    for base in walk:
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                p = Path(dirpath) / name
                if ignored_name(name) or p in claimed or p in found:
                    continue
                st = p.lstat()
                rel = p.relative_to(root)
                found[p] = {"folder": rel.parent.as_posix() if rel.parent != Path(".") else "",
                            "path": rel.as_posix(), "bytes": st.st_size,
                            "modified_at": datetime.fromtimestamp(st.st_mtime, tz=UTC)}
    return sorted(found.values(), key=lambda u: u["path"])
