"""Behaviour of the ``pii`` detector: exact spans per type in German and English, hard negatives,
policies, the ``types`` filter and custom patterns."""

from __future__ import annotations

import re

import pytest

from bastion.core.errors import ConfigError
from bastion.core.types import Detection, Policy
from bastion.detect.pii import BUILTIN_TYPES, CustomPattern, PIIDetector
from bastion.detect.registry import detectors

MARK = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)


def unmark(marked: str) -> tuple[str, list[tuple[int, int]]]:
    """Text without ``[[...]]`` marks and the spans the marks enclosed."""
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    length = position = 0
    for match in MARK.finditer(marked):
        pieces.append(marked[position : match.start()])
        length += match.start() - position
        spans.append((length, length + len(match.group(1))))
        pieces.append(match.group(1))
        length += len(match.group(1))
        position = match.end()
    pieces.append(marked[position:])
    return "".join(pieces), spans


@pytest.fixture(scope="module")
def detector() -> PIIDetector:
    return PIIDetector()


def flagged_spans(detections: list[Detection], entity_type: str) -> list[tuple[int, int]]:
    return [(d.span.start, d.span.end) for d in detections if d.flagged and d.type == entity_type and d.span]


SPANS = [
    # PERSON
    ("PERSON", "Sehr geehrte Frau [[Yılmaz]], anbei die Rechnung."),
    ("PERSON", "Sehr geehrter Herr Prof. Dr. [[Schneider]],"),
    ("PERSON", "Guten Tag, mein Name ist [[Wojciech Zieliński]]."),
    ("PERSON", "Kundin: [[Fatma Şahin]]\nBetrag: 120 EUR"),
    ("PERSON", "Mit freundlichen Grüßen\n\ni. A. [[Petra Wagner]]\nForderungsmanagement"),
    ("PERSON", "Meine Tochter [[Leonie]] hilft mir mit den Briefen."),
    ("PERSON", "Rückruf an [[Ahmet Demir]] erbeten."),
    ("PERSON", "Herr [[Van der Berg]] hat angerufen."),
    ("PERSON", "Dear Ms [[Kowalczyk]],"),
    ("PERSON", "Hi, my name is [[Olena Shevchenko]] and I need help."),
    ("PERSON", "Best regards,\n[[James O'Brien]]"),
    ("PERSON", "The account of [[Priya Sharma]] is overdue."),
    ("PERSON", "Name: [[Trần Văn Minh]]"),
    ("PERSON", "Please call [[Maria Rossi]]'s daughter."),
    # IBAN
    ("IBAN", "Bitte überweisen Sie auf [[DE89 3704 0044 0532 0130 00]]."),
    ("IBAN", "IBAN:[[DE89370400440532013000]], BIC COBADEFFXXX"),
    ("IBAN", "Pay to [[GB82 WEST 1234 5698 7654 32]], reference 123."),
    ("IBAN", "Konto in Österreich: [[AT61 1904 3002 3457 3201]]"),
    ("IBAN", "Swiss account [[CH93 0076 2011 6238 5295 7]]!"),
    # BIC
    ("BIC", "BIC: [[COBADEFFXXX]]"),
    ("BIC", "BIC/SWIFT [[MARKDEF1100]] bitte angeben"),
    ("BIC", "SWIFT code [[NWBKGB2L]]."),
    # CREDIT_CARD
    ("CREDIT_CARD", "Meine Karte: [[4111 1111 1111 1111]], gültig bis 12/27."),
    ("CREDIT_CARD", "Kreditkarte [[5555-5555-5555-4444]]"),
    ("CREDIT_CARD", "Amex [[3782 822463 10005]] was declined."),
    ("CREDIT_CARD", "card [[4012888888881881]] please"),
    # TAX_ID
    ("TAX_ID", "Meine Steuer-ID lautet [[86095742719]]."),
    ("TAX_ID", "Steuerliche IdNr. [[86 095 742 719]]"),
    ("TAX_ID", "My German tax ID is [[47036892816]]."),
    # PHONE
    ("PHONE", "Rufen Sie mich an: [[0341 5567823]]."),
    ("PHONE", "Tel.: [[+49 (0)30 1234567]]"),
    ("PHONE", "Mobil [[0171-2345678]], abends."),
    ("PHONE", "Büro [[0049 89 123456-0]]"),
    ("PHONE", "Call me on [[07700 900417]]."),
    ("PHONE", "Phone [[+44 20 7946 0958]]"),
    ("PHONE", "Direct line [[(212) 555-0147]]."),
    # EMAIL
    ("EMAIL", "Schreiben Sie an [[max.mustermann@example.de]]."),
    ("EMAIL", "E-Mail:[[j_o.hara+debt@mail.example.co.uk]]"),
    ("EMAIL", "mailto:[[info@bäckerei-beispiel.de]]"),
    # ADDRESS
    ("ADDRESS", "Neue Anschrift: [[Musterstraße 12a, 10115 Berlin]]."),
    ("ADDRESS", "Ich wohne in der [[Hauptstr. 5]]."),
    ("ADDRESS", "Adresse: [[Am Markt 3]], bitte klingeln."),
    ("ADDRESS", "[[Karl-Marx-Allee 100\n10243 Berlin]]"),
    ("ADDRESS", "wohnhaft [[Berliner Straße 12-14, 63065 Offenbach am Main]]"),
    ("ADDRESS", "Postfach 12 34, [[80331 München]]"),
    ("ADDRESS", "I moved to [[22 Kingsley Avenue, Manchester M14 6LT]]."),
    ("ADDRESS", "Address: [[Flat 3, 58 Queen's Road\nLondon SE15 2PA]]"),
    ("ADDRESS", "[[742 Evergreen Terrace, Springfield, IL 62704]]"),
    ("ADDRESS", "Postcode [[SW1A 1AA]]."),
    # DATE_OF_BIRTH
    ("DATE_OF_BIRTH", "Schuldner, geb. [[03.11.1962]], wohnhaft in Köln"),
    ("DATE_OF_BIRTH", "Geburtsdatum: [[12. März 1985]]"),
    ("DATE_OF_BIRTH", "geboren am [[1985-03-12]] in Kassel"),
    ("DATE_OF_BIRTH", "DOB: [[04/09/1983]]"),
    ("DATE_OF_BIRTH", "She was born on [[March 12, 1985]]."),
    ("DATE_OF_BIRTH", "Date of birth [[12th of March 1985]]"),
    # IP_ADDRESS
    ("IP_ADDRESS", "Login von [[203.0.113.54]]."),
    ("IP_ADDRESS", "Zugriff von [[2001:db8:85a3::8a2e:370:7334]] um 3 Uhr"),
    ("IP_ADDRESS", "client [[192.0.2.1]]:8080 connected"),
]


@pytest.mark.parametrize(("entity_type", "marked"), SPANS, ids=[f"{t}-{i}" for i, (t, _) in enumerate(SPANS)])
def test_finds_exact_span(detector: PIIDetector, entity_type: str, marked: str) -> None:
    text, expected = unmark(marked)
    assert flagged_spans(detector.detect(text), entity_type) == expected


def test_every_builtin_type_has_span_cases() -> None:
    assert {entity_type for entity_type, _ in SPANS} == set(BUILTIN_TYPES)


HARD_NEGATIVES = [
    ("IBAN", "IBAN DE89 3704 0044 0532 0130 01 hat einen Zahlendreher."),
    ("IBAN", "Artikelnummer AB12 3456 7890"),
    ("CREDIT_CARD", "Die Karte 4111 1111 1111 1112 ist ungültig."),
    ("CREDIT_CARD", "Bestellnummer 4111111111111111"),
    ("TAX_ID", "Steuer-ID 86095742718 (falsche Prüfziffer)"),
    ("TAX_ID", "Steuer-ID 12345678903 (keine Ziffer doppelt)"),
    ("PHONE", "Der Betrag von 1.234,56 EUR ist am 01.02.2024 fällig."),
    ("PHONE", "Rechnungsnummer 2024-100771, Kundennummer 0123 456789"),
    ("PHONE", "IBAN DE89 3704 0044 0532 0130 01"),
    ("PHONE", "Unsere kostenlose Hotline: 0800 1234567"),
    ("PHONE", "Toll-free 1-800-555-0100."),
    ("IP_ADDRESS", "Version 1.2.3.4 ist installiert."),
    ("IP_ADDRESS", "Termin um 12:30:00 Uhr"),
    ("BIC", "DRINGEND: ZAHLUNG ERFORDERLICH"),
    ("EMAIL", "Preis: 5 @ 10 EUR"),
    ("DATE_OF_BIRTH", "Zahlung fällig am 15.07.2024."),
    ("DATE_OF_BIRTH", "Your payment was due on March 1, 2024."),
    ("DATE_OF_BIRTH", "geboren am 31.02.1980"),
    ("PERSON", "Sehr geehrte Damen und Herren, die Mahnung vom Montag ist erledigt."),
    ("PERSON", "Die Rechnung der Telekom Deutschland GmbH ist fällig."),
    ("PERSON", "Ich bin Rentnerin und kann nicht mehr zahlen."),
    ("PERSON", "Zahlung im Januar, Februar und März in Berlin erhalten."),
    ("PERSON", "The matter was passed to Carter & Sons Ltd."),
    ("PERSON", "Dear Customer, thank you for your payment."),
    ("PERSON", "Keine Mahnungen, solange die BrightCart Europe B.V. den Fall untersucht."),
    ("ADDRESS", "Im Jahr 2024 haben wir 12 Raten vereinbart."),
    ("ADDRESS", "Wir haben 12345 Kunden in ganz Deutschland."),
    ("ADDRESS", "Please allow 3 working days for the transfer."),
]


@pytest.mark.parametrize(("entity_type", "text"), HARD_NEGATIVES)
def test_hard_negative_is_not_flagged(detector: PIIDetector, entity_type: str, text: str) -> None:
    assert flagged_spans(detector.detect(text), entity_type) == []


def test_amounts_and_invoice_numbers_produce_nothing(detector: PIIDetector) -> None:
    text = (
        "Rechnung Nr. 2024-10077 vom 02.05.2024 über 1.134,80 EUR, Mahngebühr 5,00 €, Zinsen 5 %. "
        "Invoice INV-2024-0391: $1,250.00 due on 30/06/2024, reference 4711-0815-2024."
    )
    assert [d for d in detector.detect(text) if d.flagged] == []


def test_detection_fields(detector: PIIDetector) -> None:
    text = "IBAN DE89 3704 0044 0532 0130 00"
    (detection,) = detector.detect(text)
    assert detection.detector == "pii"
    assert detection.type == "IBAN"
    assert 0.0 <= detection.score <= 1.0
    assert detection.flagged
    assert detection.explanation == "IBAN (mod-97 valid)"
    assert detection.metadata["rule"] == "pii.iban"


def test_explanations_never_contain_the_value(detector: PIIDetector) -> None:
    text = (
        "Frau Ayşe Yılmaz, geb. 03.11.1962, Musterstraße 12a, 10115 Berlin, Tel. 0341 5567823, "
        "ayse@example.de, DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX, 4111 1111 1111 1111, "
        "86095742719, 192.0.2.1"
    )
    detections = detector.detect(text)
    assert {d.type for d in detections if d.flagged} == set(BUILTIN_TYPES)
    for detection in detections:
        assert detection.span is not None
        value = detection.span.of(text)
        assert value not in detection.explanation
        assert detection.explanation.startswith(detection.type)


def test_titles_and_trailing_punctuation_stay_outside_spans(detector: PIIDetector) -> None:
    text = "Sehr geehrter Herr Dr. Weber. Rufen Sie an: 0341 5567823. Mail: a.b@example.de."
    values = {d.type: d.span.of(text) for d in detector.detect(text) if d.flagged and d.span}
    assert values == {"PERSON": "Weber", "PHONE": "0341 5567823", "EMAIL": "a.b@example.de"}


def test_a_plain_date_is_not_a_date_of_birth(detector: PIIDetector) -> None:
    assert detector.detect("Termin am 12.03.1985") == []
    assert [d.type for d in detector.detect("geboren am 12.03.1985")] == ["DATE_OF_BIRTH"]


def test_repeated_surname_is_found_again(detector: PIIDetector) -> None:
    text = "Kunde: Ahmet Yılmaz. Später rief Yılmaz noch einmal an."
    assert [d.span.of(text) for d in detector.detect(text) if d.type == "PERSON" and d.span] == [
        "Ahmet Yılmaz",
        "Yılmaz",
    ]


def test_policies_order_flagging() -> None:
    # a lone first name scores between the strict and the permissive threshold
    text = "Katarzyna hat heute angerufen."
    strict = PIIDetector(policy=Policy.STRICT).detect(text)
    permissive = PIIDetector(policy=Policy.PERMISSIVE).detect(text)
    assert [d.flagged for d in strict] == [True]
    assert [d.flagged for d in permissive] == [False]
    assert strict[0].score == permissive[0].score


def test_thresholds_come_from_policy() -> None:
    thresholds = [
        PIIDetector(policy=p).threshold for p in (Policy.STRICT, Policy.BALANCED, Policy.PERMISSIVE)
    ]
    assert thresholds == sorted(thresholds)
    assert all(PIIDetector(policy=p).floor <= t for p, t in zip(Policy, thresholds, strict=False))


def test_detections_under_the_floor_are_not_returned(detector: PIIDetector) -> None:
    for detection in detector.detect("DRINGEND COBADEFF bitte Herr Müller 0341 5567823"):
        assert detection.score >= detector.floor


def test_types_filter_limits_output() -> None:
    text = "Frau Yılmaz, IBAN DE89 3704 0044 0532 0130 00, Tel. 0341 5567823"
    only_phone = PIIDetector(types=["PHONE"])
    assert only_phone.enabled_types == ("PHONE",)
    assert [d.type for d in only_phone.detect(text)] == ["PHONE"]


def test_disabled_iban_still_keeps_its_digits_from_being_a_phone() -> None:
    assert PIIDetector(types=["PHONE"]).detect("IBAN DE89 3704 0044 0532 0130 00") == []


def test_unknown_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown PII types: SOCIAL"):
        PIIDetector(types=["PHONE", "SOCIAL"])


def test_registry_creates_the_detector() -> None:
    created = detectors.create("pii", policy=Policy.STRICT)
    assert isinstance(created, PIIDetector)
    assert created.id == "pii"
    assert created.policy is Policy.STRICT
    assert created.types == BUILTIN_TYPES
    assert "LLM02" in created.owasp


# -- custom patterns ------------------------------------------------------------------------------

CASE_NUMBER = CustomPattern("CASE_NUMBER", r"AZ-\d{4}-\d{6}", context=("Aktenzeichen", "case"), score=0.9)


def test_custom_pattern_is_detected_with_its_own_type() -> None:
    detector = PIIDetector(custom_patterns=[CASE_NUMBER])
    assert detector.enabled_types[-1] == "CASE_NUMBER"
    text = "Aktenzeichen AZ-2024-004711, bitte angeben."
    (detection,) = detector.detect(text)
    assert (detection.type, detection.span and detection.span.of(text)) == ("CASE_NUMBER", "AZ-2024-004711")
    assert detection.score == 0.9
    assert detection.flagged
    assert detection.explanation == "CASE_NUMBER (custom pattern)"


def test_custom_pattern_without_context_scores_lower() -> None:
    detector = PIIDetector(custom_patterns=[CASE_NUMBER])
    (detection,) = detector.detect("Bitte AZ-2024-004711 angeben.")
    assert detection.score == pytest.approx(0.54)
    assert detection.flagged


def test_custom_pattern_wins_over_builtin_overlap() -> None:
    phone_like = CustomPattern("CUSTOMER_LINE", r"0341 \d{7}")
    detections = PIIDetector(custom_patterns=[phone_like]).detect("Nummer 0341 5567823")
    assert [d.type for d in detections] == ["CUSTOMER_LINE"]


def test_custom_pattern_can_be_filtered_out() -> None:
    detector = PIIDetector(custom_patterns=[CASE_NUMBER], types=["PHONE"])
    assert detector.detect("Aktenzeichen AZ-2024-004711") == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("CASE_NUMBER", r"AZ-(\d{4}"), "invalid regular expression"),
        (("case number", r"AZ-\d+"), "UPPER_SNAKE_CASE"),
        (("CASE_NUMBER", r"\d*"), "matches the empty text"),
    ],
)
def test_invalid_custom_pattern_is_a_config_error(arguments: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CustomPattern(*arguments)


def test_custom_pattern_score_is_checked() -> None:
    with pytest.raises(ConfigError, match="score"):
        CustomPattern("CASE_NUMBER", r"AZ-\d+", score=1.5)


def test_custom_pattern_names_must_not_clash() -> None:
    with pytest.raises(ConfigError, match="IBAN"):
        PIIDetector(custom_patterns=[CustomPattern("IBAN", r"X\d+")])
    with pytest.raises(ConfigError, match="CASE_NUMBER"):
        PIIDetector(custom_patterns=[CASE_NUMBER, CASE_NUMBER])


def test_custom_patterns_must_be_custom_pattern_values() -> None:
    with pytest.raises(ConfigError, match="CustomPattern"):
        PIIDetector(custom_patterns=[r"AZ-\d+"])  # type: ignore[list-item]
