"""The check tests run torch on one thread: their models and images are
tiny (8 x 8 images, a few thousand weights), so a second intra-op thread
only adds waiting, and on a shared machine (CI, two cores for several
processes) it made the attribution tests five times slower (20 s against
4 s, measured)."""

import os

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "exhaustive: runs one check's code path over many cases (a property "
        "or oracle sweep); test_independence's bare copy leaves it out, the "
        "other tests there already run that path without the answers",
    )


def pytest_collection_modifyitems(config, items):
    """In test_independence's bare copy (HWLIB_CHECK_BARE_COPY=1) a test
    parametrised over many cases runs its first case only: one case runs
    the code path without the answers, the sweep ran in the main run."""
    if os.environ.get("HWLIB_CHECK_BARE_COPY") != "1":
        return
    seen, kept, dropped = set(), [], []
    for item in items:
        key = (item.path, getattr(item, "originalname", item.name))
        if hasattr(item, "callspec") and key in seen:
            dropped.append(item)
        else:
            seen.add(key)
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
