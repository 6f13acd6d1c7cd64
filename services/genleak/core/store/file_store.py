"""Object store on a local (or mounted shared) filesystem."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

from genleak.core.errors import ArtifactNotFound
from genleak.core.store.objects import TEMP_PREFIX, disk_full_is_resource_exhausted, normalize_key


class FileObjectStore:
    def __init__(self, root: Path):
        self.root = Path(root).absolute()

    def put_file(self, key: str, src: Path) -> None:
        with open(src, "rb") as fh:
            self._write_atomically(self.local_path(key), fh)

    def get_file(self, key: str, dest: Path) -> None:
        src = self._existing_path(key)
        with open(src, "rb") as fh:
            self._write_atomically(Path(dest), fh)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write_atomically(self.local_path(key), io.BytesIO(data))

    def get_bytes(self, key: str) -> bytes:
        return self._existing_path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return _is_file(self.local_path(key))

    def list(self, prefix: str) -> list[str]:
        base = self.local_path(prefix) if prefix.strip("/") else self.root
        if not base.is_dir():
            return []
        keys = []
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if not name.startswith(TEMP_PREFIX):
                    keys.append((Path(dirpath) / name).relative_to(self.root).as_posix())
        return sorted(keys)

    def uri(self, key: str) -> str:
        path = self.root / normalize_key(key) if key else self.root
        return "file://" + path.as_posix()

    def local_path(self, key: str) -> Path:
        return self.root / normalize_key(key)

    def _existing_path(self, key: str) -> Path:
        path = self.local_path(key)
        if not _is_file(path):
            raise ArtifactNotFound(f"no object at {self.uri(key)}")
        return path

    @staticmethod
    def _write_atomically(target: Path, src_fh) -> None:
        """Copy into a temp file next to `target`, then rename: readers see all of it or nothing.
        A full disk is ResourceExhausted, and the temp file is removed (it would hold the space)."""
        with disk_full_is_resource_exhausted(f"writing {target}"):
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
            try:
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(src_fh, out, 1 << 20)
                    _flush_to_disk(out)
                os.replace(tmp, target)
            except BaseException:
                _remove_quietly(Path(tmp))
                raise


def _is_file(path: Path) -> bool:
    """Path.is_file() without the OSErrors it lets through (e.g. a name too long for the OS)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _flush_to_disk(fh) -> None:
    # The manifest is written last; without fsync a crash could persist it before the data.
    fh.flush()
    os.fsync(fh.fileno())


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
