"""Import an optional dependency by name, or say which extra installs it.

The privacy package needs pyarrow, diffprivlib and joblib only for some commands; they ship no type
information, so they are imported here as ``Any`` at the point of use.
"""

from __future__ import annotations

import importlib
from typing import Any

from bastion.core.errors import UpstreamError

__all__ = ["require"]


def require(module: str, extra: str = "privacy") -> Any:
    """The module ``module``; :class:`UpstreamError` naming ``bastion-ai[extra]`` when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise UpstreamError(f"{module} is not installed: pip install 'bastion-ai[{extra}]'") from error
