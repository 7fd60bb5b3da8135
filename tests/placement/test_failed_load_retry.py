"""ModelMesh's failed-load retry rule: a failure record expires after 15 min, or half that for a model requested in
the last 3 min, checked by a janitor every 6 min, which then retries the load in the background."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from emulator.placement.failures import FailedLoads
from emulator.placement.model_state import ConcreteModel, FailureInfo, ModelState
from emulator.settings import Settings

MINUTE = 60.0


class Janitor(FailedLoads):
    """The mixin alone, its janitor schedule started `started_ago` seconds ago; loads are only recorded."""

    def __init__(self, started_ago: float):
        self._settings = Settings()
        self._models: dict[str, ConcreteModel] = {}
        self._janitor_started = time.monotonic() - started_ago
        self.loads: list[tuple[str, bool]] = []

    def _start_load(self, model: ConcreteModel, *, requested: bool) -> Any:
        self.loads.append((model.model_id, requested))


def failed_model(janitor: Janitor, name: str, *, failed_ago: float, used_ago: float,
                 reason: str = "ModelLoadFailed") -> ConcreteModel:
    registered: Any = SimpleNamespace(concrete_id=f"{name}__isvc-0123456789", name=name)
    model = ConcreteModel(registered, state=ModelState.FAILED_TO_LOAD, last_used=time.time() - used_ago,
                          failed_at=time.monotonic() - failed_ago,
                          failure=FailureInfo(reason, "endpoint unreachable", registered.concrete_id))
    janitor._models[model.model_id] = model
    return model


def due_in(janitor: Janitor, model: ConcreteModel) -> float:
    due = janitor.next_load_retry(model)
    assert due is not None
    return due - time.time()


def test_an_unused_model_is_retried_at_the_first_janitor_run_after_15_minutes() -> None:
    janitor = Janitor(started_ago=10 * MINUTE)
    model = failed_model(janitor, "idle", failed_ago=5 * MINUTE, used_ago=60 * MINUTE)

    # runs at 6, 12, 18, 24 min after the start; the record expires 20 min after it: the 24-min run retries
    assert due_in(janitor, model) == pytest.approx(14 * MINUTE, abs=1)


def test_a_model_requested_in_the_last_3_minutes_gets_half_the_expiry() -> None:
    janitor = Janitor(started_ago=10 * MINUTE)
    requested = failed_model(janitor, "wanted", failed_ago=8 * MINUTE, used_ago=0)
    idle = failed_model(janitor, "idle", failed_ago=8 * MINUTE, used_ago=60 * MINUTE)

    # next run at 12 min, 2 min from now: 10 min after the failure, past 7.5 min, and within 3 min of the request;
    # without the request, the run at 18 min (16 min after the failure) is the first past 15 min
    assert due_in(janitor, requested) == pytest.approx(2 * MINUTE, abs=1)
    assert due_in(janitor, idle) == pytest.approx(8 * MINUTE, abs=1)


def test_a_request_long_before_the_janitor_run_does_not_shorten_the_expiry() -> None:
    janitor = Janitor(started_ago=1 * MINUTE)
    model = failed_model(janitor, "once", failed_ago=30, used_ago=0)

    # the run 11 min after this request is past 7.5 min, but the request is no longer recent then
    assert due_in(janitor, model) == pytest.approx(17 * MINUTE, abs=1)


def test_the_janitor_clears_expired_records_and_retries_only_those_in_the_background() -> None:
    janitor = Janitor(started_ago=30 * MINUTE)
    expired = failed_model(janitor, "expired", failed_ago=16 * MINUTE, used_ago=60 * MINUTE)
    standing = failed_model(janitor, "standing", failed_ago=14 * MINUTE, used_ago=60 * MINUTE)
    recent = failed_model(janitor, "recent", failed_ago=8 * MINUTE, used_ago=MINUTE)
    invalid = failed_model(janitor, "invalid", failed_ago=16 * MINUTE, used_ago=60 * MINUTE,
                           reason="InvalidPredictorSpec")

    janitor._retry_expired_failures()

    assert janitor.loads == [(expired.model_id, False), (recent.model_id, False)]
    assert (expired.state, expired.failure) == (ModelState.LOADING, None)
    assert janitor.next_load_retry(expired) is None
    assert standing.state is ModelState.FAILED_TO_LOAD and standing.failure is not None
    assert invalid.state is ModelState.FAILED_TO_LOAD and janitor.next_load_retry(invalid) is None


def test_a_request_meanwhile_gets_the_failure_as_internal_and_counts_as_a_use() -> None:
    janitor = Janitor(started_ago=MINUTE)
    model = failed_model(janitor, "refused", failed_ago=10, used_ago=60 * MINUTE)

    error = janitor._refuse_failed(model)

    assert (error.grpc_code, error.http_status, error.message) == (grpc.StatusCode.INTERNAL, 500,
                                                                 "endpoint unreachable")
    assert time.time() - model.last_used < 1
