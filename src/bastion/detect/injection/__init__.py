"""Direct prompt injection and jailbreak detection in user messages (English, German and more)."""

from bastion.detect.injection.detector import InjectionDetector

__all__ = ["InjectionDetector"]
