import os

import pytest
import torch

# The device-parametrised tests run the same code on every device this machine has: on a CPU-only
# machine that is the CPU alone, on a GPU machine the CUDA path as well.
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


@pytest.fixture(scope="session")
def cifar_root():
    """The real CIFAR-10 when $HWLIB_CIFAR10 names it (CI sets it), else the test is skipped."""
    root = os.environ.get("HWLIB_CIFAR10")
    if not root:
        pytest.skip("set HWLIB_CIFAR10 to a CIFAR-10 folder to run the tests on real data")
    return root
