"""A small plugin registry: stable dotted ids mapped to factories, loaded lazily.

Built-in plugins are declared as ``"module:attribute"`` strings so that asking for one detector does not
import the others (the injection model loads only when someone asks for ``injection``). Third parties add
plugins through the entry-point group given to the registry (e.g. ``bastion.detectors``) with the same
``"module:attribute"`` form. Ids are never reused: registering an id twice is an error.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar, cast

from bastion.core.errors import RegistryError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps ids to factories of one plugin family.

    >>> registry: Registry[object] = Registry("widget")
    >>> registry.add("demo.widget", object)
    >>> registry.ids()
    ['demo.widget']
    """

    def __init__(self, family: str, entry_point_group: str | None = None) -> None:
        self.family = family
        self._entry_point_group = entry_point_group
        self._targets: dict[str, str | Callable[..., T]] = {}
        self._loaded: dict[str, Callable[..., T]] = {}
        self._entry_points_read = entry_point_group is None
        self._lock = threading.Lock()

    def add(self, plugin_id: str, target: str | Callable[..., T]) -> None:
        """Register ``target`` (a factory, or a lazy ``"module:attribute"`` path) under ``plugin_id``."""
        if not plugin_id or plugin_id != plugin_id.strip():
            raise RegistryError(f"invalid {self.family} id {plugin_id!r}")
        with self._lock:
            if plugin_id in self._targets:
                raise RegistryError(f"{self.family} id {plugin_id!r} is already registered")
            self._targets[plugin_id] = target

    def ids(self) -> list[str]:
        """All registered ids, sorted."""
        self._read_entry_points()
        return sorted(self._targets)

    def __contains__(self, plugin_id: object) -> bool:
        self._read_entry_points()
        return plugin_id in self._targets

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids())

    def factory(self, plugin_id: str) -> Callable[..., T]:
        """The factory registered under ``plugin_id``, importing it on first use."""
        self._read_entry_points()
        with self._lock:
            if plugin_id in self._loaded:
                return self._loaded[plugin_id]
            try:
                target = self._targets[plugin_id]
            except KeyError:
                known = ", ".join(sorted(self._targets)) or "none"
                raise RegistryError(f"unknown {self.family} {plugin_id!r} (known: {known})") from None
            factory = _resolve(target) if isinstance(target, str) else target
            self._loaded[plugin_id] = factory
            return factory

    def create(self, plugin_id: str, /, **kwargs: Any) -> T:
        """Build the plugin registered under ``plugin_id`` with ``kwargs``."""
        return self.factory(plugin_id)(**kwargs)

    def _read_entry_points(self) -> None:
        if self._entry_points_read:
            return
        self._entry_points_read = True
        assert self._entry_point_group is not None
        for point in entry_points(group=self._entry_point_group):
            if point.name not in self._targets:
                self.add(point.name, point.value)


def _resolve(path: str) -> Callable[..., Any]:
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
        return cast(Callable[..., Any], getattr(module, attribute))
    except (ImportError, AttributeError) as error:
        raise RegistryError(f"cannot load plugin {path!r}: {error}") from error
