"""Device names: auto picks what this machine has; a GPU asked for where there is none is refused."""

from __future__ import annotations

import pytest
import torch

from marlinflow.compute.devices import resolve_device
from marlinflow.errors import InputError


def test_auto_is_the_gpu_where_cuda_sees_one_else_the_cpu():
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"


def test_bad_names_and_missing_gpus_are_clear_errors():
    with pytest.raises(InputError, match="not a torch device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA sees no GPU"):
            resolve_device("cuda:0")
