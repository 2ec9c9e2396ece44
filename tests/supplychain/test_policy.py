"""The globals policy and the package lists are data: every example they carry is checked here."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.supplychain import FileVerdict, load_policy, lookalike_of
from bastion.supplychain.requirements import load_lists

POLICY = load_policy()


def _first_dot(text: str) -> tuple[str, str]:
    module, _, name = text.partition(".")
    return module, name


def _last_dot(text: str) -> tuple[str, str]:
    module, _, name = text.rpartition(".")
    return module, name


@pytest.mark.parametrize("rule", POLICY.deny_rules, ids=lambda r: r.id)
def test_deny_rule_examples(rule: object) -> None:
    for example in rule.match:  # type: ignore[attr-defined]
        # split at the first dot (as the YAML header says): ("torch", "os.system") exercises the
        # attribute-walk tails; real module paths are covered by the prefix match on the full name
        module, name = _first_dot(example)
        judgement = POLICY.judge(module, name)
        assert judgement.verdict is FileVerdict.MALICIOUS, (example, judgement)
    for example in rule.no_match:  # type: ignore[attr-defined]
        judgement = POLICY.judge(*_last_dot(example))
        assert judgement.verdict is not FileVerdict.MALICIOUS, (example, judgement)


@pytest.mark.parametrize("rule", POLICY.allow_rules, ids=lambda r: f"{r.framework}:{r.module}")
def test_allow_rule_examples(rule: object) -> None:
    for example in rule.examples:  # type: ignore[attr-defined]
        judgement = POLICY.judge(*_last_dot(example))
        assert judgement.verdict is FileVerdict.SAFE, (example, judgement)


@pytest.mark.parametrize(
    "module,name",
    [
        ("torch.nn.modules.linear", "os.system"),
        ("sklearn.base", "sys.modules"),
        ("numpy", "__builtins__"),
        ("collections", "OrderedDict.__init__.__globals__"),
        ("torch._utils", "_rebuild_tensor.__globals__"),
    ],
)
def test_attribute_walks_from_allowed_modules_are_malicious(module: str, name: str) -> None:
    assert POLICY.judge(module, name).verdict is FileVerdict.MALICIOUS


@pytest.mark.parametrize(
    "module,name",
    [
        ("torch.nn.modules.linear", "Linear.forward"),
        ("mypkg", "Net"),
        ("scipy.signal._ltisys", "TransferFunction"),
    ],
)
def test_unreviewed_names_are_suspicious(module: str, name: str) -> None:
    assert POLICY.judge(module, name).verdict is FileVerdict.SUSPICIOUS


def test_python2_names_are_mapped() -> None:
    assert POLICY.judge("__builtin__", "set").verdict is FileVerdict.SAFE
    assert POLICY.judge("copy_reg", "_reconstructor").verdict is FileVerdict.SAFE
    assert POLICY.judge("__builtin__", "getattr").verdict is FileVerdict.MALICIOUS


def test_nested_loaders_are_known() -> None:
    assert POLICY.is_nested_loader("torch.storage", "_load_from_bytes")
    assert not POLICY.is_nested_loader("torch._utils", "_rebuild_tensor_v2")


def test_lookalike_examples() -> None:
    lists = load_lists()
    for example in lists.examples.lookalike:
        assert lookalike_of(example.name, lists) == example.of, example
    for name in lists.examples.clean:
        assert lookalike_of(name, lists) == "", name


def test_lists_do_not_flag_each_other() -> None:
    lists = load_lists()
    for name in lists.popular | lists.known:
        assert lookalike_of(name, lists) == "", name


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_judge_never_raises(module: str, name: str) -> None:
    judgement = POLICY.judge(module, name)
    assert judgement.verdict in set(FileVerdict)
    if judgement.verdict is FileVerdict.SAFE:
        assert "." not in name or judgement.rule == "allowed"
