"""Real local servers for tests: a free port, and an ASGI app served by uvicorn in a thread."""

from bastion.web.serve import free_port, serving

__all__ = ["free_port", "serving"]
