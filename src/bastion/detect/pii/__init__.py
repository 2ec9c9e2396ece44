"""PII detection for German and English text (detector id ``pii``).

One detector for the personal data a debt-collection business handles: names, bank and card numbers,
the German tax ID, phone numbers, e-mail and postal addresses, dates of birth and IP addresses, plus
case numbers and other identifiers the user defines with :class:`CustomPattern`. Values with a
checksum are only reported when the checksum holds.

>>> from bastion.detect.pii import PIIDetector
>>> detector = PIIDetector()
>>> text = "Sehr geehrte Frau Yılmaz, Ihre IBAN DE89 3704 0044 0532 0130 00 ist gespeichert."
>>> [(d.type, text[d.span.start : d.span.end]) for d in detector.detect(text) if d.flagged]
[('PERSON', 'Yılmaz'), ('IBAN', 'DE89 3704 0044 0532 0130 00')]

Data (patterns, name gazetteers, context words) lives in ``bastion/data/pii/`` and is read once per
process; a loaded detector is immutable and safe to share between threads.
"""

from bastion.detect.pii._detector import BUILTIN_TYPES, CustomPattern, PIIDetector

__all__ = ["BUILTIN_TYPES", "CustomPattern", "PIIDetector"]
