import os

import pytest
import torch

# The device-parametrised tests run the same code on every device this machine has: on a CPU-only
# machine that is the CPU alone, on a GPU machine the CUDA path as well.
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA"
)
"""Marks a test of what only CUDA has (graphs, streams, a second device)."""


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


def one_hot_conv_matrix(kernel, size, stride=1, padding=0):
    """The conv-as-matrix reference built by torch alone: column c of A is
    F.conv2d of the c-th one-hot (size x size) image, float64."""
    import torch.nn.functional as F

    eye = torch.eye(size * size, dtype=torch.float64)
    images = eye.reshape(-1, 1, size, size)
    kernel = torch.as_tensor(kernel, dtype=torch.float64)
    out = F.conv2d(images, kernel[None, None], stride=stride, padding=padding)
    return out.flatten(1).T


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


def count_regions_by_sampling(layers, n=None, *, require_cover=True):
    """Brute-force reference for count_identified_pieces, d = 1 or 2.

    Samples the midpoints of an n^d grid of (0, 1)^d, runs h -> |W h + b|
    layer by layer and groups the samples by their sign pattern (the sign of
    every pre-activation): on each group the map is one affine map, so each
    group is one piece. A piece counts when its sampled image comes within
    0.02 of every point of a 3^d grid spanning the box (0.03 to 0.97 per
    axis), i.e. when its image covers (0, 1)^d. No exact arithmetic and no
    per-coordinate decomposition: a lost permutation, a wrong cut or a
    wrong cover test in the exact counter disagrees with it.
    require_cover=False counts every piece (a wrong counter, for tests
    that a check can fail).
    """
    ws, bs = [], []
    for w, b in layers:
        w = torch.as_tensor(w, dtype=torch.float64)
        ws.append(w.reshape(1, 1) if w.ndim == 0 else w)
        bs.append(torch.as_tensor(b, dtype=torch.float64).reshape(-1))
    d = ws[0].shape[0]
    n = n or {1: 4096, 2: 512}[d]
    ticks = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    h = torch.cartesian_prod(*[ticks] * d).reshape(-1, d)
    signs = []
    for w, b in zip(ws, bs):
        pre = h @ w.T + b
        signs.append(pre >= 0)
        h = pre.abs()
    pattern = torch.cat(signs, dim=1).to(torch.int64)
    code = (pattern << torch.arange(pattern.shape[1])).sum(1)
    marks = torch.tensor([0.03, 0.5, 0.97], dtype=torch.float64)
    targets = torch.cartesian_prod(*[marks] * d).reshape(-1, d)
    count = 0
    for c in code.unique():
        image = h[code == c]
        nearest = torch.cdist(targets, image).min(dim=1).values
        count += bool((nearest < 0.02).all()) or not require_cover
    return count
