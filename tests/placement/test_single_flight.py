"""Concurrent first requests for an unloaded model cause exactly one load, and all of them get the answer."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.conftest import ROOT
from tests.v2_client import expected_outputs, grpc_infer, grpc_request

pytestmark = pytest.mark.integration

SKLEARN = "example-sklearn-mnist-svm"
CONCURRENT = 24


def test_concurrent_first_requests_share_one_load(make_settings: Callable[..., Settings],
                                                  sample_s3_root: Path) -> None:
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root, load_on_apply=False)) as emu:
        emu.apply_paths([ROOT / "runtimes" / "mlserver-1.x.yaml", ROOT / "sample_models" / "sklearn-mnist-svm.yaml"])
        placement = emu.emulator.placement
        assert emu.call(lambda: placement.vmodel(SKLEARN, "modelmesh-serving").active.state) == "Pending"

        with ThreadPoolExecutor(CONCURRENT) as pool:
            replies = list(pool.map(lambda _: grpc_infer(emu.grpc_address, grpc_request(SKLEARN)),
                                    range(CONCURRENT)))

        copy = emu.call(lambda: placement.vmodel(SKLEARN, "modelmesh-serving").active)
        runtime_log = copy.handle.instance.log_tail(1000)

    assert copy.loads == 1
    assert runtime_log.count("INFO - /inference.GRPCInferenceService/RepositoryModelLoad") == 1
    answers = {tuple(reply.outputs[0].contents.int64_contents) for reply in replies}
    assert answers == {tuple(expected_outputs(SKLEARN)[0]["data"])}
