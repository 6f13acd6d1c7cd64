"""Keeps loaded engines warm across requests; swaps models per request (LRU).

Loading a model costs seconds (HF) to a minute (vLLM), so services reuse engines.
Engines are leased: one evicted while a request still uses it is closed when that
request returns it, never under its feet.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from genleak.engines.base import EngineConfig, GenerationEngine
from genleak.engines.registry import create_engine

log = logging.getLogger(__name__)

CacheKey = tuple[str, str]


@dataclass
class _Entry:
    engine: GenerationEngine
    leases: int = 0
    evicted: bool = False


class EngineCache:
    """Thread-safe LRU of engines keyed by (resolved model folder, EngineConfig hash)."""

    def __init__(
        self,
        max_size: int = 1,
        factory: Callable[[Path, EngineConfig], GenerationEngine] = create_engine,
    ):
        if max_size < 1:
            raise ValueError("max_size must be >= 1")
        self.max_size = max_size
        self._factory = factory
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        # Held while loading too: two requests for one model must not load it twice, and
        # a load must wait for evictions so memory is freed before the next model arrives.
        self._lock = threading.RLock()

    @staticmethod
    def key(model_dir: Path, config: EngineConfig) -> CacheKey:
        return (str(Path(model_dir).resolve()), config.spec_hash())

    @contextmanager
    def lease(self, model_dir: Path, config: EngineConfig) -> Iterator[GenerationEngine]:
        """Borrow the engine for `model_dir`/`config`, loading it on a miss."""
        key = self.key(model_dir, config)
        entry = self._acquire(key, model_dir, config)
        try:
            yield entry.engine
        finally:
            self._release(entry)

    def get(self, model_dir: Path, config: EngineConfig) -> GenerationEngine:
        """The cached engine without a lease (for single-threaded callers such as the CLI)."""
        with self.lease(model_dir, config) as engine:
            return engine

    def load(self, model_dir: Path, config: EngineConfig) -> None:
        """Warm the engine ahead of requests (it stays cached until evicted or unloaded)."""
        with self.lease(model_dir, config):
            pass

    def unload(self, model_dir: Path, config: EngineConfig | None = None) -> int:
        """Drop the engine(s) of `model_dir` (all engine configs when `config` is None); returns
        how many were dropped. Engines still leased close when their request returns them."""
        folder = str(Path(model_dir).resolve())
        with self._lock:
            keys = [k for k in self._entries if k[0] == folder and (config is None or k[1] == config.spec_hash())]
            entries = [self._entries.pop(k) for k in keys]
        for entry in entries:
            entry.evicted = True
            if entry.leases == 0:
                _close_quietly(entry.engine)
        return len(entries)

    def loaded(self) -> list[tuple[str, str, int]]:
        """(model folder, engine name, active leases) of every cached engine, least recent first."""
        with self._lock:
            return [(key[0], getattr(getattr(e.engine, "config", None), "name", "?"), e.leases)
                    for key, e in self._entries.items()]

    def __contains__(self, item: tuple[Path, EngineConfig]) -> bool:
        with self._lock:
            return self.key(*item) in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def close(self) -> None:
        """Evict everything (engines still leased close when returned)."""
        with self._lock:
            while self._entries:
                self._evict_oldest()

    def _acquire(self, key: CacheKey, model_dir: Path, config: EngineConfig) -> _Entry:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            else:
                while len(self._entries) >= self.max_size:
                    self._evict_oldest()
                entry = _Entry(self._factory(Path(model_dir), config))
                self._entries[key] = entry
            entry.leases += 1
            return entry

    def _release(self, entry: _Entry) -> None:
        with self._lock:
            entry.leases -= 1
            close_now = entry.evicted and entry.leases == 0
        if close_now:
            _close_quietly(entry.engine)

    def _evict_oldest(self) -> None:
        key, entry = self._entries.popitem(last=False)
        entry.evicted = True
        log.info("evicting engine for %s", key[0])
        if entry.leases == 0:
            _close_quietly(entry.engine)


def _close_quietly(engine: GenerationEngine) -> None:
    try:
        engine.close()
    except Exception:  # a failed close must not fail the request that triggered eviction
        log.exception("closing an evicted engine failed")
