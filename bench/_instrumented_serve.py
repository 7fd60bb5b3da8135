"""`modelmesh-emulator` with timestamps around the steps of a cold start, for bench/cold_start.py.

No emulator source is changed: before the CLI runs, the public async methods below are wrapped so that each
call appends one JSON line `{"event", "key", "start", "end"}` (time.perf_counter, i.e. CLOCK_MONOTONIC on Linux,
comparable across processes) to the file named by MMEMU_BENCH_TIMINGS.

| event   | wrapped                              | key                    |
|---------|--------------------------------------|------------------------|
| call    | DataPlane.call (whole request)       | model name in request  |
| route   | Placement.route (find / load model)  | vmodel name            |
| acquire | RuntimePool.acquire (runtime start)  | ServingRuntime name    |
| pull    | Puller.pull (storage → models dir)   | concrete model id      |
| load    | MLServerAdapter.load_model           | concrete model id      |

    MMEMU_BENCH_TIMINGS=t.jsonl python bench/_instrumented_serve.py serve PATH… [options]
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from emulator import cli
from emulator.adapters.mlserver import MLServerAdapter
from emulator.placement.placement import Placement
from emulator.placement.runtime_pool import RuntimePool
from emulator.router.dataplane import DataPlane
from emulator.router.wire import read_string_field
from emulator.storage.puller import Puller

__all__ = ["instrument"]


def _wrap(out: TextIO, cls: type, name: str, event: str, key_of: Callable[..., str]) -> None:
    original = getattr(cls, name)

    @functools.wraps(original)
    async def timed(self: object, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await original(self, *args, **kwargs)
        finally:
            end = time.perf_counter()
            try:
                key = key_of(*args, **kwargs)
            except Exception:  # never let the instrumentation break a request
                key = "?"
            out.write(json.dumps({"event": event, "key": key, "start": start, "end": end}) + "\n")

    setattr(cls, name, timed)


def _request_model(method: str, request: bytes, *_: Any, **__: Any) -> str:
    return read_string_field(request, (1,)) or method


def instrument(path: str) -> None:
    out = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    _wrap(out, DataPlane, "call", "call", _request_model)
    _wrap(out, Placement, "route", "route", lambda name, *_, **__: name)
    _wrap(out, RuntimePool, "acquire", "acquire", lambda runtime, *_, **__: runtime.metadata.name)
    _wrap(out, Puller, "pull", "pull", lambda model_id, *_, **__: model_id)
    _wrap(out, MLServerAdapter, "load_model", "load", lambda model_id, *_, **__: model_id)


if __name__ == "__main__":
    instrument(os.environ["MMEMU_BENCH_TIMINGS"])
    sys.exit(cli.main())
