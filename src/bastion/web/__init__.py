"""Shared pieces of Bastion's HTTP services (the demo assistant and the gateway): OpenAI-style errors and
request-body limits."""

from bastion.web.openai import BodyLimit, openai_error

__all__ = ["BodyLimit", "openai_error"]
