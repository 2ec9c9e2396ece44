"""Replacing detected personal data: reversible tokens (:class:`Pseudonymizer`) or labels (:func:`mask`).

Both take the text and the detections of a detector (normally ``pii``) and replace what the detections
point at. Only flagged detections with a non-empty span are used; overlapping ones are resolved by
:func:`~bastion.pseudonymize._selection.select_detections` (longest, then highest score). Replacing
happens in one left-to-right pass that copies the text between spans, which gives the same result as
replacing the spans right to left and takes time linear in the text.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bastion.core.errors import InputError, UsageError
from bastion.core.types import Detection, Span
from bastion.pseudonymize._keys import check_master_key, check_tenant, derive_key
from bastion.pseudonymize._selection import select_detections
from bastion.pseudonymize._tokens import TokenMinter, find_tokens, type_label
from bastion.pseudonymize._vault import RestoreResult, Vault

__all__ = ["PseudonymizedText", "Pseudonymizer", "Replacement", "mask"]


@dataclass(frozen=True, slots=True)
class Replacement:
    """One replaced value: where it was (``source``, in the input) and where its token is (``target``)."""

    token: str
    type: str
    source: Span
    target: Span


@dataclass(frozen=True, slots=True)
class PseudonymizedText:
    """The result of :meth:`Pseudonymizer.pseudonymize`. It never holds a replaced value.

    ``text`` is the new text, ``mapping`` maps each token in it to the detection type it stands for,
    ``replacements`` lists every replacement in text order.
    """

    text: str
    mapping: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    replacements: tuple[Replacement, ...] = ()

    @property
    def tokens(self) -> frozenset[str]:
        """The tokens this pseudonymisation put into the text (pass them as ``only`` to restore)."""
        return frozenset(self.mapping)


class Pseudonymizer:
    """Replaces personal data with stable, keyed tokens such as ``PERSON_7f3a9c21xk0m4q2d``.

    ``key`` is the master key (at least 16 bytes), ``tenant`` the tenant whose token key is derived from
    it, ``vault`` where the original values are stored for restoration (without one, tokens are one-way
    pseudonyms), ``types`` the detection types to replace (``None``: all). The same value of the same type
    gets the same token in one tenant and different tokens in different tenants. Thread-safe.

    >>> from bastion.core.types import Detection, Span
    >>> key = b"0123456789abcdef0123456789abcdef"
    >>> pseudonymizer = Pseudonymizer(key, "acme", vault=Vault(key))
    >>> text = "Call Erika Mustermann."
    >>> result = pseudonymizer.pseudonymize(text, [Detection("pii", "PERSON", 0.9, True, Span(5, 21))])
    >>> result.text
    'Call PERSON_cce5t42n9ew3qybx.'
    >>> pseudonymizer.restore(result.text, only=result.tokens)
    'Call Erika Mustermann.'
    """

    def __init__(
        self, key: bytes, tenant: str, vault: Vault | None = None, types: frozenset[str] | None = None
    ) -> None:
        self.tenant = check_tenant(tenant)
        self.vault = vault
        self.types = None if types is None else frozenset(types)
        self._allowed_labels = None if types is None else frozenset(type_label(t) for t in types)
        self._minter = TokenMinter(derive_key(check_master_key(key), "token", tenant))

    def __repr__(self) -> str:
        types = None if self.types is None else sorted(self.types)
        return f"Pseudonymizer(tenant={self.tenant!r}, vault={self.vault!r}, types={types!r})"

    def token(self, detection_type: str, value: str) -> str:
        """The token of ``value`` as a ``detection_type`` in this tenant (nothing is stored)."""
        return self._minter.token(detection_type, value)

    def pseudonymize(self, text: str, detections: Iterable[Detection]) -> PseudonymizedText:
        """Replace the detected values in ``text`` with their tokens and store them in the vault.

        Tokens already in the text are left alone, and detections that touch one are ignored, so running
        this again on its own output changes nothing. With a vault, only tokens it holds for this tenant
        count as tokens; without one, every token-shaped string does (a value written right before
        ``_`` and 16 base-32 characters is then not replaced). Raises :class:`InputError` for a span
        outside the text and :class:`VaultError` when the vault cannot store the values.
        """
        if not isinstance(text, str):
            raise InputError(f"pseudonymize needs text (str), not {type(text).__name__}")
        protected = list(find_tokens(text))
        if self.vault is not None and protected:
            protected = self.vault.known_token_spans(self.tenant, text)
        selected = select_detections(
            len(text), detections, allowed_labels=self._allowed_labels, protected=protected
        )
        parts: list[str] = []
        replacements: list[Replacement] = []
        mapping: dict[str, str] = {}
        values: dict[str, str] = {}
        position = 0
        length = 0
        for span, detection in selected:
            value = span.of(text)
            token = self._minter.token(detection.type, value)
            mapping.setdefault(token, detection.type)
            values.setdefault(token, value)
            before = text[position : span.start]
            parts.append(before)
            parts.append(token)
            length += len(before)
            replacements.append(Replacement(token, detection.type, span, Span(length, length + len(token))))
            length += len(token)
            position = span.end
        parts.append(text[position:])
        if self.vault is not None and values:
            self.vault.put_many(self.tenant, values.items())
        return PseudonymizedText("".join(parts), MappingProxyType(mapping), tuple(replacements))

    def restore(self, text: str, *, only: Collection[str] | None = None) -> str:
        """``text`` with this tenant's tokens replaced by their values (see :meth:`Vault.restore`)."""
        return self._require_vault().restore(self.tenant, text, only=only)

    def restore_with_report(self, text: str, *, only: Collection[str] | None = None) -> RestoreResult:
        """Like :meth:`restore`, and say which tokens were restored, unknown or withheld."""
        return self._require_vault().restore_with_report(self.tenant, text, only=only)

    def _require_vault(self) -> Vault:
        if self.vault is None:
            raise UsageError("restoring needs a vault: create the Pseudonymizer with vault=Vault(key, ...)")
        return self.vault


def mask(text: str, detections: Iterable[Detection], types: frozenset[str] | None = None) -> str:
    """``text`` with each detected value replaced by its label in brackets (``[EMAIL]``); irreversible.

    Used for the guard's *redact* action. Detections are chosen like :meth:`Pseudonymizer.pseudonymize`
    does (flagged, with a span, of ``types``, overlaps resolved).
    """
    if not isinstance(text, str):
        raise InputError(f"mask needs text (str), not {type(text).__name__}")
    allowed_labels = None if types is None else frozenset(type_label(t) for t in types)
    parts: list[str] = []
    position = 0
    for span, detection in select_detections(len(text), detections, allowed_labels=allowed_labels):
        parts.append(text[position : span.start])
        parts.append(f"[{type_label(detection.type)}]")
        position = span.end
    parts.append(text[position:])
    return "".join(parts)
