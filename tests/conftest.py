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
        pytest.skip(
            "set HWLIB_CIFAR10 to a CIFAR-10 folder to run the tests on real data"
        )
    return root


def make_toy_data(n=600, *, device="cpu", seed=0, n_test=None):
    """A small CIFAR-shaped DeviceData that a small model learns quickly.

    Label = which of 10 horizontal bands (3 rows each) is bright (250) on
    a dark noisy background (0..59); uint8 images (n, 3, 32, 32). The last
    n_test images (n // 6 by default) are the test split.
    """
    from hwlib.data import DeviceData

    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    x = torch.randint(0, 60, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    for i, label in enumerate(y.tolist()):
        x[i, :, 3 * label : 3 * label + 3, :] = 250
    split = n - (n // 6 if n_test is None else n_test)
    parts = (x[:split], y[:split], x[split:], y[split:])
    return DeviceData(*(t.to(device) for t in parts))


@pytest.fixture
def toy_data():
    """The shared toy dataset factory: toy_data(n, device=..., seed=...)."""
    return make_toy_data


def _assert_refused(call, error, fragment):
    """call() raises `error` whose message contains `fragment` (plain text).

    Used by the bad-input tables: every refusal must name the argument,
    the value and what is expected, so the fragment is checked literally.
    """
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value), (fragment, str(info.value))


@pytest.fixture
def refused():
    """refused(call, error, fragment): the bad-input assertion above."""
    return _assert_refused


def pytest_generate_tests(metafunc):
    """A test taking `bad_input` runs once per row of its module's BAD_INPUTS.

    Each row is (id, call, error, fragment); the test gets (call, error,
    fragment), e.g. `refused(*bad_input)`.
    """
    if "bad_input" in metafunc.fixturenames:
        rows = metafunc.module.BAD_INPUTS
        metafunc.parametrize(
            "bad_input",
            [row[1:] for row in rows],
            ids=[row[0] for row in rows],
        )
