"""The event store: repeats aggregated by count (client-go's correlator), bounded by number and age."""

from __future__ import annotations

import time

from emulator.control.event_api import core_event, v1_event
from emulator.events import EventRecorder


def test_a_repeat_raises_the_count_of_the_stored_event_and_moves_its_resource_version() -> None:
    recorder = EventRecorder(uid_of=lambda kind, namespace, name: f"uid-of-{name}")
    first = recorder.record("InferenceService", "ns", "m", "Loading", "loading model m on x")
    other = recorder.record("InferenceService", "ns", "m", "Loaded", "model m loaded")
    again = recorder.record("InferenceService", "ns", "m", "Loading", "loading model m on x")

    assert again is first and again.count == 2
    assert [e.reason for e in recorder.events()] == ["Loaded", "Loading"]
    assert [e.reason for e in recorder.changes_after(other.resource_version)] == ["Loading"]
    body = core_event(again)
    assert body["count"] == 2 and body["involvedObject"] == {
        "kind": "InferenceService", "name": "m", "namespace": "ns", "uid": "uid-of-m",
        "apiVersion": "serving.kserve.io/v1beta1"}
    assert v1_event(again)["series"]["count"] == 2 and v1_event(again)["regarding"] == body["involvedObject"]


def test_different_messages_or_objects_are_separate_events() -> None:
    recorder = EventRecorder()
    recorder.record("InferenceService", "ns", "a", "FailedToLoad", "one", warning=True)
    recorder.record("InferenceService", "ns", "a", "FailedToLoad", "two", warning=True)
    recorder.record("InferenceService", "other", "a", "FailedToLoad", "one", warning=True)

    assert [(e.namespace, e.message, e.type) for e in recorder.events()] == [
        ("ns", "one", "Warning"), ("ns", "two", "Warning"), ("other", "one", "Warning")]


def test_the_store_keeps_the_newest_events_within_its_count_and_age() -> None:
    recorder = EventRecorder(max_events=3, ttl_s=3600)
    for index in range(5):
        recorder.record("ServingRuntime", "ns", "rt", "InstanceReady", f"ready {index}")
    assert [e.message for e in recorder.events()] == ["ready 2", "ready 3", "ready 4"]

    aging = EventRecorder(ttl_s=3600)
    old = aging.record("ClusterServingRuntime", None, "rt", "InstanceReady", "ready")
    old.last = time.time() - 3601
    aging.record("ClusterServingRuntime", None, "rt", "InstanceStarting", "starting")
    assert [e.reason for e in aging.events()] == ["InstanceStarting"]
    assert aging.events()[0].namespace == "default"  # cluster-scoped objects' events live in default
