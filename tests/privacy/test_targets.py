"""Targets: fitted estimators, PyTorch modules and a black-box HTTP endpoint served by a real local server."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bastion.core.errors import InputError, UpstreamError, UsageError
from bastion.privacy.assessment import assess
from bastion.privacy.attacks import AttackContext
from bastion.privacy.datasets import TabularData
from bastion.privacy.policy import load_policy
from bastion.privacy.targets import EstimatorTarget, HttpTarget, Output, TorchTarget, load_estimator

from ..net import serving

Thirds = tuple[TabularData, TabularData, TabularData]


def scoring_app(model: Any) -> FastAPI:
    """A scoring service as a product team would run it: probabilities, labels, and two broken routes."""
    app = FastAPI()

    @app.post("/v1/score")
    async def score(request: Request) -> dict[str, Any]:
        rows = np.asarray((await request.json())["instances"], dtype=float)
        return {"probabilities": model.predict_proba(rows).tolist()}

    @app.post("/v1/label")
    async def label(request: Request) -> dict[str, Any]:
        rows = np.asarray((await request.json())["instances"], dtype=float)
        return {"labels": model.predict(rows).tolist()}

    @app.post("/v1/broken")
    async def broken() -> JSONResponse:
        return JSONResponse({"error": "boom"}, status_code=500)

    @app.post("/v1/short")
    async def short() -> dict[str, Any]:
        return {"probabilities": [[0.5, 0.5]]}

    return app


def test_estimator_target_checks_input_and_counts_queries(overfit_model: Any, thirds: Thirds) -> None:
    target = EstimatorTarget(overfit_model)
    answer = target.predict(thirds[0].features[:5])
    assert answer.probabilities is not None and answer.probabilities.shape == (5, 2)
    assert target.output is Output.PROBABILITIES and target.queries == 5
    for bad in (np.zeros((0, 3)), np.zeros(3), np.array([[np.nan, 1.0]])):
        with pytest.raises(InputError):
            target.predict(bad)
    with pytest.raises(UpstreamError, match="failed"):
        target.predict(np.zeros((2, 3)))  # wrong number of columns: the model raises, we wrap it
    with pytest.raises(UsageError):
        EstimatorTarget(object())


def test_http_target_against_a_real_server(overfit_model: Any, thirds: Thirds) -> None:
    members, nonmembers, _ = thirds
    with serving(scoring_app(overfit_model)) as base:
        probabilities = HttpTarget(f"{base}/score", batch_size=64)
        local = EstimatorTarget(overfit_model).predict(members.features)
        remote = probabilities.predict(members.features)
        assert remote.probabilities is not None and local.probabilities is not None
        assert np.allclose(remote.probabilities, local.probabilities)
        labels = HttpTarget(f"{base}/label", Output.LABELS)
        context = AttackContext(
            labels, members.subset(range(150)), nonmembers.subset(range(150)), noise_queries=6
        )
        assessment = assess(
            context, load_policy(), ["membership.label_gap", "membership.label_noise", "membership.loss"]
        )
        assert {r.attack_id for r in assessment.results} == {"membership.label_gap", "membership.label_noise"}
        assert assessment.result("membership.label_noise").summary.auc > 0.55
        assert labels.queries > 300 * 6
        with pytest.raises(UpstreamError, match="HTTP 500"):
            HttpTarget(f"{base}/broken").predict(members.features[:2])
        with pytest.raises(UpstreamError, match="list of 2 items"):
            HttpTarget(f"{base}/short").predict(members.features[:2])
        for target in (probabilities, labels):
            target.close()
    with pytest.raises(UpstreamError, match="unreachable"):
        HttpTarget(f"{base}/score", timeout=2).predict(members.features[:1])


def test_http_target_rejects_malformed_answers() -> None:
    def answer(payload: Any) -> httpx.MockTransport:
        return httpx.MockTransport(lambda request: httpx.Response(200, json=payload))

    rows = np.zeros((2, 2))
    cases = [
        ({"probabilities": [[0.9, 0.9], [0.5, 0.5]]}, "do not sum to 1"),
        ({"probabilities": [[0.5], [0.5]]}, "shape"),
        ({"probabilities": [["a", "b"], [0.5, 0.5]]}, "not a matrix of numbers"),
        ({"probabilities": [[0.5, 0.5], [1.0]]}, "not a matrix of numbers"),
        ({"probabilities": [0.5, 0.5]}, "not a matrix of numbers"),
        ({"other": 1}, "no 'probabilities' list"),
    ]
    for payload, message in cases:
        with pytest.raises(UpstreamError, match=message):
            HttpTarget("http://scoring.test/v1", transport=answer(payload)).predict(rows)
    not_json = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>"))
    with pytest.raises(UpstreamError, match="not JSON"):
        HttpTarget("http://scoring.test/v1", transport=not_json).predict(rows)
    with pytest.raises(UsageError):
        HttpTarget("ftp://scoring.test")


def test_torch_target(thirds: Thirds) -> None:
    members = thirds[0]
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Linear(len(members.columns), 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)
    )
    target = TorchTarget(module, batch_size=64)
    answer = target.predict(members.features)
    assert answer.probabilities is not None and np.allclose(answer.probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert np.array_equal(answer.labels, answer.probabilities.argmax(axis=1))


def test_load_estimator(tmp_path: Any) -> None:
    model = load_estimator("tests.privacy.models:fitted_model")
    assert hasattr(model, "predict_proba")
    pickled = tmp_path / "m.joblib"
    pickled.write_bytes(b"not really")
    with pytest.raises(UsageError, match="--allow-pickle"):
        load_estimator(str(pickled))
    for spec in ("nocolon", "tests.privacy.models:missing", "tests.privacy.models:NOT_A_MODEL"):
        with pytest.raises(UsageError):
            load_estimator(spec)
