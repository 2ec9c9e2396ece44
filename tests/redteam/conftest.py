"""The demo fixtures (generated environment, assistants) for red-team tests that need a demo over HTTP."""

from tests.demo.conftest import base_environment, demo_data, environment, make_assistant

__all__ = ["base_environment", "demo_data", "environment", "make_assistant"]
