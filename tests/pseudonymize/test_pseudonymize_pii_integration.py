"""The pseudonymizer behind the real ``pii`` detector, as the guard will use it."""

from __future__ import annotations

import importlib

import pytest

from bastion.pseudonymize import Pseudonymizer, Vault, find_tokens

KEY = bytes(range(32))

try:
    importlib.import_module("bastion.detect.pii")
except ImportError as error:  # the detector is written in parallel; this test runs once it lands
    pytest.skip(f"bastion.detect.pii does not import yet ({error})", allow_module_level=True)

from bastion.detect.registry import detectors  # noqa: E402

MESSAGES = [
    "Hallo, ich bin Erika Mustermann. Bitte buchen Sie von DE89 3704 0044 0532 0130 00 ab.",
    "My e-mail is max.mustermann@example.com and my phone is +49 30 1234567.",
    "Meine IBAN ist DE89370400440532013000, schreiben Sie an erika@example.de.",
]


@pytest.mark.parametrize("message", MESSAGES)
def test_detected_personal_data_leaves_as_tokens_and_comes_back(message: str) -> None:
    detector = detectors.create("pii")
    pseudonymizer = Pseudonymizer(KEY, "acme", vault=Vault(KEY))
    detections = detector.detect(message)
    flagged = [d for d in detections if d.flagged and d.span is not None]
    assert flagged, "the pii detector found nothing in a message full of personal data"
    result = pseudonymizer.pseudonymize(message, detections)
    for replacement in result.replacements:
        value = replacement.source.of(message)
        if len(value) >= 6 and message.count(value) == 1:
            assert value not in result.text
    assert pseudonymizer.restore(result.text, only=result.tokens) == message

    # the detector run on the pseudonymised text must not make a second pass change anything
    again = pseudonymizer.pseudonymize(result.text, detector.detect(result.text))
    assert again.text == result.text
    assert len(list(find_tokens(again.text))) == len(result.replacements)
