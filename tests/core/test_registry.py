from __future__ import annotations

import pytest

from bastion.core.errors import RegistryError
from bastion.core.registry import Registry


def test_lazy_targets_load_on_first_use() -> None:
    registry: Registry[object] = Registry("thing")
    registry.add("ordered.dict", "collections:OrderedDict")
    assert registry.ids() == ["ordered.dict"]
    assert type(registry.create("ordered.dict")).__name__ == "OrderedDict"


def test_ids_are_never_registered_twice() -> None:
    registry: Registry[object] = Registry("thing")
    registry.add("a", object)
    with pytest.raises(RegistryError, match="already registered"):
        registry.add("a", object)


def test_unknown_and_broken_plugins_raise_registry_errors() -> None:
    registry: Registry[object] = Registry("thing")
    registry.add("broken", "bastion.no_such_module:Nothing")
    with pytest.raises(RegistryError, match="unknown thing 'missing'"):
        registry.factory("missing")
    with pytest.raises(RegistryError, match="cannot load plugin"):
        registry.factory("broken")


def test_detector_registry_lists_the_builtins() -> None:
    from bastion.detect.registry import detectors

    assert {"injection", "indirect", "pii", "secrets", "leakage"} <= set(detectors.ids())
