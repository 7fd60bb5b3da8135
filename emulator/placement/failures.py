"""Placement's failed loads, as ModelMesh keeps them: a failure record per model that requests get as their
error until it expires, and a janitor that clears expired records and retries the load in the background.

ModelMesh's janitor runs every `tas.janitor_freq_secs` (6 min) and removes failure records older than
`MM_LOAD_FAILURE_EXPIRY_TIME_MS` (15 min), or half that for a model requested in the last 3 minutes; the next
request or the leader's registry reaper (every 7 min, proactively, when there is room) then loads the model.
The emulator starts that proactive load in the janitor run that clears the record.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from ..errors import EmulatorError, ModelLoadError, RuntimeStartError
from .model_state import ConcreteModel, FailureInfo, ModelState
from .runtime_pool import RuntimeHandle

__all__ = ["RECENT_USE_S", "FailedLoads"]

log = logging.getLogger(__name__)

_SELECTION_REASONS = ("NoSupportingRuntime", "RuntimeNotRecognized", "RuntimeUnhealthy")
"""Failures a runtime being applied or changed may cure: retried at once when that happens."""

RECENT_USE_S = 180.0
"""A model requested this recently gets half the failure expiry (ModelMesh's SHORT_EXPIRY_RECENT_USE_TIME_MS)."""


class FailedLoads:
    """Mixin of `Placement`."""

    _janitor: asyncio.Task[None] | None = None
    _janitor_started = 0.0
    """time.monotonic() the janitor's schedule counts from: it runs every `failure_janitor_interval_s` after."""

    def _fail(self, model: ConcreteModel, exc: Exception, handle: RuntimeHandle | None) -> None:
        if isinstance(exc, RuntimeStartError):
            reason = "RuntimeUnhealthy"
        elif isinstance(exc, ModelLoadError):
            reason = exc.reason
        else:
            reason = "ModelLoadFailed"
        if not isinstance(exc, EmulatorError):
            log.exception("unexpected error loading model %s", model.model_id)
        if reason == "ModelLoadFailed":
            self._metrics.load_failures.inc()
        message = exc.message if isinstance(exc, EmulatorError) else f"{type(exc).__name__}: {exc}"
        location = handle.location if handle is not None and reason == "ModelLoadFailed" else None
        model.failure = FailureInfo(reason=reason, message=message, model_id=model.model_id, location=location)
        model.state, model.failed_at = ModelState.FAILED_TO_LOAD, time.monotonic()
        log.warning("model %s failed to load (%s): %s", model.model_id, reason, message)
        self._model_event(model, "FailedToLoad", f"{reason}: {message}", warning=True)
        self._start_janitor()

    def _refuse_failed(self, model: ConcreteModel) -> ModelLoadError:
        """What a request for a model with a standing failure record gets: that failure (INTERNAL, as ModelMesh's
        ModelLoadException). The request counts as a use, which shortens the record's expiry."""
        assert model.failure is not None
        model.use(time.time())
        return ModelLoadError(model.failure.message, reason=model.failure.reason)

    def next_load_retry(self, model: ConcreteModel) -> float | None:
        """When (epoch seconds) the janitor will clear the model's failure record and retry its load, if no further
        request shortens the expiry; None unless the model is FailedToLoad with a record that expires."""
        if not self._has_failure_record(model):
            return None
        assert model.failed_at is not None
        now, wall = time.monotonic(), time.time()
        expiry = self._settings.load_failure_expiry_s
        soon = self._janitor_run_after(max(now, model.failed_at + expiry / 2))
        if wall + (soon - now) - model.last_used < RECENT_USE_S:
            return wall + (soon - now)
        return wall + (self._janitor_run_after(max(now, model.failed_at + expiry)) - now)

    @staticmethod
    def _has_failure_record(model: ConcreteModel) -> bool:
        """An invalid spec is no load failure: the controller never registers such a model with ModelMesh."""
        return model.state is ModelState.FAILED_TO_LOAD and model.failed_at is not None and model.load_task is None \
            and (model.failure is None or model.failure.reason != "InvalidPredictorSpec")

    def _failure_expired(self, model: ConcreteModel, now: float, wall: float) -> bool:
        if not self._has_failure_record(model):
            return False
        assert model.failed_at is not None
        expiry = self._settings.load_failure_expiry_s
        if wall - model.last_used < RECENT_USE_S:
            expiry /= 2
        return now - model.failed_at > expiry

    def _janitor_run_after(self, moment: float) -> float:
        """The first janitor run (time.monotonic()) strictly after `moment`."""
        interval = self._settings.failure_janitor_interval_s
        runs = max(1, math.floor((moment - self._janitor_started) / interval) + 1)
        return self._janitor_started + runs * interval

    def _start_janitor(self) -> None:
        if self._janitor is None:
            self._janitor_started = time.monotonic()
            self._janitor = self._spawn(self._run_janitor(), "failed-load janitor")

    async def _run_janitor(self) -> None:
        while True:
            await asyncio.sleep(max(0.0, self._janitor_run_after(time.monotonic()) - time.monotonic()))
            self._retry_expired_failures()

    def _retry_expired_failures(self) -> None:
        now, wall = time.monotonic(), time.time()
        for model in list(self._models.values()):
            if self._failure_expired(model, now, wall):
                log.info("failure record of model %s expired (%.0fs old): retrying its load", model.model_id,
                         now - model.failed_at)
                model.state, model.failure, model.failed_at = ModelState.LOADING, None, None
                self._start_load(model, requested=False)

    def _retry_models_waiting_for_runtime(self) -> None:
        for model in self._models.values():
            if model.state is ModelState.FAILED_TO_LOAD and model.failure and \
                    model.failure.reason in _SELECTION_REASONS:
                self._start_load(model, requested=False)

    def _stop_janitor(self) -> None:
        if self._janitor is not None:
            self._janitor.cancel()
            self._janitor = None
