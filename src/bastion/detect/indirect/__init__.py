"""Indirect prompt injection: instructions aimed at an AI hidden in documents and tool output (EN, DE)."""

from bastion.detect.indirect.detector import Evidence, IndirectInjectionDetector

__all__ = ["Evidence", "IndirectInjectionDetector"]
