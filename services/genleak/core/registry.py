"""One small registry type behind every plugin family (engines, tasks, fine-tune methods, attacks, ...).

A family keeps its own public functions (`register_engine`, `get_method`, ...) and keeps its items
in a `Registry`: a name is registered once (a second plugin claiming it is a bug, refused unless the
family asks to replace), an unknown name raises InvalidSpec naming the spec field and listing the
valid names, and items keep their registration order.

Imports only the standard library and genleak.core.errors, so every layer can use it without
pulling torch or anything above core.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, Iterator, TypeVar, overload

from genleak.core.errors import InvalidSpec

T = TypeVar("T")

_NO_ITEM = object()  # `register(name)` without an item: used as a decorator


class Registry(Generic[T]):
    """Name -> item for one plugin family; safe to use from several threads.

    `family` is what the items are called in errors ("engine", "MIA attack"); `field` is the spec
    field an unknown name is reported under unless `get` is told another.
    """

    def __init__(self, family: str, field: str | None = None):
        self.family = family
        self.field = field
        self._items: dict[str, T] = {}
        self._lock = threading.Lock()

    @overload
    def register(self, name: str, *, replace: bool = False) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, item: T, *, replace: bool = False) -> T: ...

    def register(self, name: str, item: object = _NO_ITEM, *, replace: bool = False) -> object:
        """Add `item` under `name` and return it; without `item`, a decorator that registers what it
        decorates. A taken name raises ValueError unless `replace` (the item then keeps the name's place)."""
        if item is _NO_ITEM:
            return lambda decorated: self.register(name, decorated, replace=replace)
        with self._lock:
            if name in self._items and not replace:
                raise ValueError(f"{self.family} {name!r} is already registered")
            self._items[name] = item  # type: ignore[assignment]
        return item

    def unregister(self, name: str) -> None:
        """Forget `name` (nothing happens if it is unknown)."""
        with self._lock:
            self._items.pop(name, None)

    def get(self, name: str, field: str | None = None) -> T:
        """The item registered as `name`; InvalidSpec naming `field` (or the family's) and the valid names."""
        with self._lock:
            item = self._items.get(name, _NO_ITEM)
        if item is _NO_ITEM:
            raise InvalidSpec(f"unknown {self.family} {name!r}; valid: {self.valid_names()}",
                              field=field if field is not None else self.field)
        return item  # type: ignore[return-value]

    def names(self) -> list[str]:
        """The registered names, sorted (what users are shown)."""
        with self._lock:
            return sorted(self._items)

    def valid_names(self) -> str:
        """The sorted names as one comma-separated phrase for error messages."""
        return ", ".join(self.names()) or "none registered"

    def items(self) -> list[tuple[str, T]]:
        """(name, item) pairs in registration order."""
        with self._lock:
            return list(self._items.items())

    def values(self) -> list[T]:
        """The items in registration order."""
        with self._lock:
            return list(self._items.values())

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._items

    def __iter__(self) -> Iterator[str]:
        """The names in registration order (a snapshot: registering while iterating is fine)."""
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.family!r}, names={self.names()})"
