"""Upstream's xgboost and lightgbm mushroom models, example InferenceServices and FVT Predictors unchanged from
../shared, served by upstream's mlserver-1.x ClusterServingRuntime through real MLServer processes (with the
mlserver-xgboost and mlserver-lightgbm runtimes), checked as modelmesh-serving's fvt/inference.go checks them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.conftest import UPSTREAM_EXAMPLES
from tests.model_status import wait_until_settled

pytestmark = pytest.mark.integration

TESTDATA = UPSTREAM_EXAMPLES / "testdata"
# fvt/inference.go's mushroomInputData: one mushroom, one-hot encoded over 126 features.
MUSHROOM = np.zeros((1, 126), dtype=np.float32)
MUSHROOM[0, [0, 8, 18, 20, 23, 33, 35, 38, 41, 52, 55, 64, 68, 76, 85, 87, 91, 94, 101, 105, 116, 121]] = 1.0


@pytest.fixture(scope="module")
def mlserver(make_settings: Callable[..., Settings], upstream_s3_root: Path) -> Iterator[EmulatorThread]:
    with EmulatorThread(make_settings(local_s3_root=upstream_s3_root)) as emu:
        emu.apply(*[
            TESTDATA / "config" / "runtimes",
            TESTDATA / "config" / "example-isvcs" / "example-xgboost-mushroom-isvc.yaml",
            TESTDATA / "config" / "example-isvcs" / "example-lightgbm-mushroom-isvc.yaml",
            TESTDATA / "predictors" / "xgboost-predictor.yaml",
            TESTDATA / "predictors" / "lightgbm-predictor.yaml",
        ])
        yield emu


@pytest.mark.parametrize("name", ["example-xgboost-mushroom", "xgboost-mushroom"])
def test_xgboost_mushroom_is_served_by_mlserver_and_predicts_not_poisonous(mlserver: EmulatorThread,
                                                                            name: str) -> None:
    grpc_reply = mlserver.client.infer(name, {"predict": MUSHROOM})
    rest_reply = mlserver.client.infer_rest(name, {"predict": MUSHROOM})
    status = wait_until_settled(mlserver, name)

    assert grpc_reply.model_name.startswith(f"{name}__")
    output = next(iter(grpc_reply.values()))
    assert output.dtype == np.float32  # the FVT reads Fp32Contents
    assert round(float(output.flat[0]), 1) == 0
    np.testing.assert_allclose(next(iter(rest_reply.values())), output, rtol=1e-6)
    assert status["modelStatus"]["states"] == {"activeModelState": "Loaded", "targetModelState": ""}


@pytest.mark.parametrize("name", ["example-lightgbm-mushroom", "lightgbm-predictor"])
def test_lightgbm_mushroom_is_served_by_mlserver_and_predicts_not_poisonous(mlserver: EmulatorThread,
                                                                             name: str) -> None:
    reply = mlserver.client.infer(name, {"predict": MUSHROOM})
    status = wait_until_settled(mlserver, name)

    assert reply.model_name.startswith(f"{name}__")
    output = next(iter(reply.values()))
    assert output.dtype == np.float64  # the FVT reads Fp64Contents
    assert round(float(output.flat[0]), 1) == 0
    assert status["modelStatus"]["states"] == {"activeModelState": "Loaded", "targetModelState": ""}
