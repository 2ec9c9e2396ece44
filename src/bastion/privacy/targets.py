"""What the attacks query: a model that scores rows of features.

Every target has one public method, :meth:`BaseTarget.predict`, which checks the input, counts the
queries, calls the subclass's ``_predict`` and checks what comes back (one row of class probabilities
summing to 1 per input row, or one label per row). Three kinds:

- :class:`EstimatorTarget`: an object with ``predict_proba`` (scikit-learn, XGBoost, LightGBM, a
  diffprivlib model) or only ``predict`` (then the target answers labels);
- :class:`TorchTarget`: a ``torch.nn.Module`` returning logits (torch is imported only here);
- :class:`HttpTarget`: a black-box scoring endpoint. It POSTs ``{"instances": [[...], ...]}`` in batches
  and reads ``{"probabilities": [[...], ...]}`` or ``{"labels": [...]}``; field names are settings.

``output`` says which the target answers: :attr:`Output.PROBABILITIES` (every attack runs) or
:attr:`Output.LABELS` (only the label-only attacks run).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, final, runtime_checkable

import httpx
import numpy as np
from numpy.typing import NDArray

from bastion.core.errors import ConfigError, InputError, UpstreamError, UsageError
from bastion.privacy._optional import require

__all__ = [
    "BaseTarget",
    "EstimatorTarget",
    "HttpTarget",
    "Output",
    "Prediction",
    "ProbabilisticModel",
    "TorchTarget",
    "load_estimator",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
#: the largest batch a target is asked to score at once
MAX_ROWS_PER_CALL = 1_000_000


class Output(StrEnum):
    PROBABILITIES = "probabilities"
    LABELS = "labels"


@runtime_checkable
class ProbabilisticModel(Protocol):
    """The scikit-learn convention the estimator target relies on."""

    def predict_proba(self, features: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Prediction:
    """What a target answered: the predicted labels, and the class probabilities when it gives them."""

    labels: IntArray
    probabilities: FloatArray | None = None


class BaseTarget(ABC):
    """Validation and query counting around ``_predict``; subclasses set ``name`` and ``output``."""

    name: str
    output: Output

    def __init__(self) -> None:
        self.queries = 0

    @final
    def predict(self, features: FloatArray) -> Prediction:
        """Score ``features`` (rows of numbers); raises :class:`InputError` for bad input and
        :class:`UpstreamError` when the model fails or answers something malformed."""
        matrix = np.asarray(features, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] == 0:
            raise InputError("a target scores a non-empty matrix of features")
        if matrix.shape[0] > MAX_ROWS_PER_CALL:
            raise InputError(f"at most {MAX_ROWS_PER_CALL:,} rows per call")
        if not np.all(np.isfinite(matrix)):
            raise InputError("features must be finite numbers")
        self.queries += matrix.shape[0]
        try:
            prediction = self._predict(matrix)
        except (InputError, UpstreamError):
            raise
        except Exception as error:
            raise UpstreamError(f"target {self.name!r} failed: {type(error).__name__}") from error
        return _checked(prediction, matrix.shape[0], self.name)

    @abstractmethod
    def _predict(self, features: FloatArray) -> Prediction:
        """Score a finite, non-empty matrix."""

    def close(self) -> None:  # noqa: B027 - optional hook, most targets hold nothing
        """Release connections; the default has none."""


def _checked(prediction: Prediction, rows: int, name: str) -> Prediction:
    labels = np.asarray(prediction.labels).astype(np.int64).ravel()
    if labels.shape[0] != rows:
        raise UpstreamError(f"target {name!r} answered {labels.shape[0]} labels for {rows} rows")
    if prediction.probabilities is None:
        return Prediction(labels)
    probabilities = np.asarray(prediction.probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[0] != rows or probabilities.shape[1] < 2:
        raise UpstreamError(f"target {name!r} answered probabilities of shape {probabilities.shape}")
    if not np.all(np.isfinite(probabilities)) or np.any(probabilities < -1e-9):
        raise UpstreamError(f"target {name!r} answered probabilities that are not in [0, 1]")
    if not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        raise UpstreamError(f"target {name!r} answered probabilities that do not sum to 1")
    return Prediction(labels, np.clip(probabilities, 0.0, 1.0))


class EstimatorTarget(BaseTarget):
    """A fitted estimator. Classes must be ``0..k-1`` (the labels of :class:`TabularData`)."""

    def __init__(self, estimator: Any, name: str = "model", labels_only: bool = False) -> None:
        super().__init__()
        if not hasattr(estimator, "predict"):
            raise UsageError("the estimator needs a predict method")
        self.estimator = estimator
        self.name = name
        probabilistic = isinstance(estimator, ProbabilisticModel) and not labels_only
        self.output = Output.PROBABILITIES if probabilistic else Output.LABELS

    def _predict(self, features: FloatArray) -> Prediction:
        if self.output is Output.LABELS:
            return Prediction(np.asarray(self.estimator.predict(features)))
        probabilities = np.asarray(self.estimator.predict_proba(features), dtype=np.float64)
        classes = getattr(self.estimator, "classes_", None)
        if classes is not None and not np.array_equal(np.asarray(classes), np.arange(len(classes))):
            raise UpstreamError(f"target {self.name!r}: classes must be 0..k-1, not {list(classes)}")
        return Prediction(probabilities.argmax(axis=1), probabilities)


class TorchTarget(BaseTarget):
    """A PyTorch classifier: ``module(features)`` returns logits, one column per class."""

    def __init__(self, module: Any, name: str = "torch-model", batch_size: int = 4096) -> None:
        super().__init__()
        try:
            import torch
        except ImportError as error:
            raise UpstreamError("torch is not installed") from error
        self._torch = torch
        self.module = module
        self.name = name
        self.output = Output.PROBABILITIES
        self.batch_size = batch_size

    def _predict(self, features: FloatArray) -> Prediction:
        torch = self._torch
        self.module.eval()
        parts = []
        with torch.no_grad():
            for start in range(0, features.shape[0], self.batch_size):
                batch = torch.as_tensor(features[start : start + self.batch_size], dtype=torch.float32)
                parts.append(torch.softmax(self.module(batch), dim=1).double().numpy())
        probabilities = np.concatenate(parts)
        return Prediction(probabilities.argmax(axis=1), probabilities)


class HttpTarget(BaseTarget):
    """A scoring endpoint behind ``url``; ``output`` is what it answers. Requests go in batches of
    ``batch_size`` rows with ``timeout`` seconds each; ``transport`` replaces the network in tests of
    the client alone (the real-server tests use a local server)."""

    def __init__(
        self,
        url: str,
        output: Output = Output.PROBABILITIES,
        *,
        name: str = "",
        input_field: str = "instances",
        headers: dict[str, str] | None = None,
        batch_size: int = 512,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__()
        if not url.startswith(("http://", "https://")):
            raise UsageError("the endpoint URL must start with http:// or https://")
        if batch_size < 1:
            raise UsageError("batch_size must be at least 1")
        self.url = url
        self.name = name or url
        self.output = Output(output)
        self.input_field = input_field
        self.batch_size = batch_size
        self._client = httpx.Client(headers=headers, timeout=timeout, transport=transport)

    def _predict(self, features: FloatArray) -> Prediction:
        labels: list[Any] = []
        probabilities: list[Any] = []
        for start in range(0, features.shape[0], self.batch_size):
            batch = features[start : start + self.batch_size]
            answer = self._post(batch.tolist())
            field = self.output.value
            values = answer.get(field) if isinstance(answer, dict) else None
            if not isinstance(values, list) or len(values) != batch.shape[0]:
                raise UpstreamError(f"endpoint answered no {field!r} list of {batch.shape[0]} items")
            (probabilities if self.output is Output.PROBABILITIES else labels).extend(values)
        if self.output is Output.LABELS:
            try:
                return Prediction(np.asarray(labels, dtype=np.int64))
            except (TypeError, ValueError) as error:
                raise UpstreamError("endpoint answered labels that are not integers") from error
        try:
            matrix = np.asarray(probabilities, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise UpstreamError("endpoint answered probabilities that are not a matrix of numbers") from error
        if matrix.ndim != 2:
            raise UpstreamError("endpoint answered probabilities that are not a matrix of numbers")
        return Prediction(matrix.argmax(axis=1), matrix)

    def _post(self, rows: list[list[float]]) -> Any:
        try:
            response = self._client.post(self.url, json={self.input_field: rows})
        except httpx.HTTPError as error:
            raise UpstreamError(f"endpoint unreachable: {type(error).__name__}") from error
        if response.status_code != 200:
            raise UpstreamError(f"endpoint answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as error:
            raise UpstreamError("endpoint answered something that is not JSON") from error

    def close(self) -> None:
        self._client.close()


def load_estimator(spec: str, *, allow_pickle: bool = False) -> Any:
    """A fitted estimator from ``module:attribute`` (the attribute, or what calling it returns) or from a
    ``.joblib``/``.pkl`` file. Loading a file runs code in it, so it needs ``allow_pickle`` - use it only
    for files that ``bastion supplychain scan`` has passed."""
    path = Path(spec)
    if path.suffix in (".joblib", ".pkl", ".pickle"):
        if not allow_pickle:
            raise UsageError(
                f"{path.name}: loading a pickle runs code; scan it first, then pass --allow-pickle"
            )
        if not path.is_file():
            raise UsageError(f"{path.name}: no such model file")
        joblib = require("joblib", "train")
        try:
            return joblib.load(path)
        except Exception as error:
            raise ConfigError(f"{path.name}: cannot load the model ({type(error).__name__})") from error
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UsageError("--model takes module:attribute or a .joblib/.pkl file")
    try:
        value = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise UsageError(f"cannot load the model {spec!r}: {error}") from error
    if not hasattr(value, "predict") and callable(value):
        value = value()
    if not hasattr(value, "predict"):
        raise UsageError(f"{spec!r} is not an estimator (no predict method)")
    return value
