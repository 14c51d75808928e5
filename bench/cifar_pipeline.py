"""Benchmark: hwlib's device-resident CIFAR-10 pipeline against the usual
alternatives, every ratio of issue 13 measured side by side in one run.

Same model throughout: the chapter's MLP 3072-512-512-10, SGD with momentum
0.9, batch 128, random-crop augmentation (pad 4).

* hwlib's eager loop (`hwlib.train.train_epoch`: uint8 data on the device,
  batches cut by index, crop and normalise there) against a torchvision
  DataLoader pipeline (PIL images, RandomCrop(32, 4), ToTensor, Normalize,
  shuffling; the best of several worker counts) training the same model.
* On the CPU: hwlib's epoch against a bare loop of the same arithmetic
  written inline with torch matrix products (goal: at most 1.2x).
* On a GPU: 30 augmented epochs with a test evaluation after each through
  `hwlib.train.fit` (the CUDA-graph fast path; goal: at most 1.5 s), and the
  ratio of the best DataLoader pipeline doing the same work (an epoch and a
  test evaluation) to hwlib's (goal: at least 50x).

Usage: python bench/cifar_pipeline.py [--batches N] [--synthetic]
CIFAR-10 comes from $HWLIB_CIFAR10 (or data/); --synthetic uses random images
of the same shape (timings do not depend on the pixel values).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from PIL import Image

from hwlib.data import CIFAR10_MEAN, CIFAR10_STD, DeviceData, default_device
from hwlib.nn import SGD, CrossEntropyLoss, mlp
from hwlib.train import TrainSettings, fit, train_epoch

SIZES = [3072, 512, 512, 10]
BATCH = 128
GPU_EPOCHS = 30


def load(synthetic: bool):
    """(train_x, train_y, test_x, test_y, description), uint8 on the CPU."""
    if not synthetic:
        try:
            from hwlib.data import load_cifar10

            data = load_cifar10(download=False)
            return (
                data.train_x,
                data.train_y,
                data.test_x,
                data.test_y,
                "CIFAR-10 (" + data.source + ")",
            )
        except Exception as err:  # any failure falls back to synthetic data
            print(
                f"note: no CIFAR-10 ({type(err).__name__}); using "
                "synthetic images of the same shape"
            )
    g = torch.Generator().manual_seed(0)
    x = torch.randint(
        0, 256, (60000, 3, 32, 32), dtype=torch.uint8, generator=g
    )
    y = torch.randint(0, 10, (60000,), generator=g)
    return x[:50000], y[:50000], x[50000:], y[50000:], "synthetic"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(device, work) -> float:
    """Seconds for `work()` after one warm-up call."""
    work()
    sync(device)
    start = time.perf_counter()
    work()
    sync(device)
    return time.perf_counter() - start


def interleaved(device, works: dict, repeats: int) -> dict:
    """Wall and CPU seconds of each zero-argument callable over `repeats`
    rounds, timed in turn after one warm-up each (the order reversed every
    other round, A B B A ...), so that load from other processes hits all
    of them alike. Returns {name: (best wall, median wall, total CPU)}."""
    for work in works.values():
        work()
    wall = {name: [] for name in works}
    cpu = dict.fromkeys(works, 0.0)
    for round_ in range(repeats):
        for name in list(works)[:: -1 if round_ % 2 else 1]:
            sync(device)
            start, start_cpu = time.perf_counter(), time.process_time()
            works[name]()
            sync(device)
            wall[name].append(time.perf_counter() - start)
            cpu[name] += time.process_time() - start_cpu
    return {
        name: (min(times), statistics.median(times), cpu[name])
        for name, times in wall.items()
    }


def time_hwlib(x, y, device, n, *, timer=timed):
    """Seconds for an epoch of n images with hwlib's eager loop (with
    timer=None: the epoch as a callable)."""
    g = torch.Generator(device=device).manual_seed(0)
    model = mlp(SIZES, generator=g, device=device)
    opt = SGD(model, lr=0.01, momentum=0.9)
    data_x, data_y = x[:n].to(device), y[:n].to(device)
    loss_fn = CrossEntropyLoss()

    def epoch():
        train_epoch(
            model,
            loss_fn,
            opt,
            data_x,
            data_y,
            BATCH,
            generator=g,
            augment=True,
        )

    return epoch if timer is None else timer(device, epoch)


class PILDataset(torch.utils.data.Dataset):
    """What torchvision's CIFAR10 dataset does per item: a PIL image from
    the uint8 array, then the transform."""

    def __init__(self, x, y, transform):
        self.x, self.y = x.permute(0, 2, 3, 1).numpy(), y.tolist()
        self.transform = transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.x[i])), self.y[i]


def loader(x, y, device, workers, *, augment):
    from torchvision import transforms

    steps = [transforms.RandomCrop(32, padding=4)] if augment else []
    steps += [
        transforms.ToTensor(),
        transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD),
    ]
    return torch.utils.data.DataLoader(
        PILDataset(x, y, transforms.Compose(steps)),
        batch_size=BATCH if augment else 2000,
        shuffle=augment,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )


def time_dataloader(x, y, device, n, workers, test=None):
    """Seconds for an epoch of n images fed by a DataLoader pipeline (and a
    test evaluation through one, when test=(x, y) is given)."""
    train = loader(x[:n], y[:n], device, workers, augment=True)
    evaluation = test and loader(*test, device, workers, augment=False)
    model = mlp(
        SIZES,
        generator=torch.Generator(device=device).manual_seed(0),
        device=device,
    )
    loss_fn, opt = CrossEntropyLoss(), SGD(model, lr=0.01, momentum=0.9)

    def to(images, labels):
        return (
            images.to(device, non_blocking=True).flatten(1),
            labels.to(device, non_blocking=True),
        )

    def epoch():
        for images, labels in train:
            images, labels = to(images, labels)
            loss_fn.forward(model.forward(images), labels)
            model.backward(loss_fn.backward())
            opt.step()
        correct = 0
        for images, labels in evaluation or []:
            images, labels = to(images, labels)
            correct += int((model.forward(images).argmax(1) == labels).sum())

    return timed(device, epoch)  # the warm-up call starts the workers


def time_bare_loop(x, y, n, *, timer=timed):
    """Seconds for an epoch of n images as plain inline torch arithmetic
    (CPU): the same crops, normalisation, MLP and SGD, no modules (with
    timer=None: the epoch as a callable)."""
    g = torch.Generator().manual_seed(0)
    model = mlp(SIZES, generator=g)  # for identically initialised tensors
    (w1, b1), (w2, b2), (w3, b3) = [
        (m.weight.clone(), m.bias.clone()) for m in model.modules[::2]
    ]
    params = [w1, b1, w2, b2, w3, b3]
    bufs = [torch.zeros_like(p) for p in params]
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    xs, ys, steps = x[:n], y[:n], torch.arange(32)
    channels = torch.arange(3)[None, :, None, None]

    def epoch():
        order = torch.randperm(n, generator=g)
        top, left = torch.randint(0, 9, (2, n), generator=g)
        for s in range(0, n, BATCH):
            idx, b = order[s : s + BATCH], slice(s, s + BATCH)
            pad = torch.nn.functional.pad(xs[idx], (4, 4, 4, 4))
            rows = (top[b, None] + steps)[:, None, :, None]
            cols = (left[b, None] + steps)[:, None, None, :]
            images = torch.arange(len(idx))[:, None, None, None]
            img = pad[images, channels, rows, cols]
            a0 = ((img.float() / 255 - mean) / std).flatten(1)
            z1 = torch.addmm(b1, a0, w1.T)
            a1 = z1.clamp(min=0)
            z2 = torch.addmm(b2, a1, w2.T)
            a2 = z2.clamp(min=0)
            z3 = torch.addmm(b3, a2, w3.T)
            p = torch.softmax(z3, 1)
            p[torch.arange(len(idx)), ys[idx]] -= 1
            d3 = p / len(idx)
            d2 = (d3 @ w3) * (z2 > 0)
            d1 = (d2 @ w2) * (z1 > 0)
            grads = [
                d1.T @ a0,
                d1.sum(0),
                d2.T @ a1,
                d2.sum(0),
                d3.T @ a2,
                d3.sum(0),
            ]
            for prm, buf, grd in zip(params, bufs, grads):
                buf.mul_(0.9).add_(grd)
                prm.sub_(buf, alpha=0.01)

    return epoch if timer is None else timer(torch.device("cpu"), epoch)


def time_fit(data, device, *, fast):
    """Seconds for GPU_EPOCHS augmented epochs with a test evaluation after
    each, through fit (after a one-epoch warm-up run); and the record."""
    settings = TrainSettings(epochs=GPU_EPOCHS, augment=True)
    warm = TrainSettings(epochs=1, augment=True)
    fit(data, warm, progress=False, fast=fast)
    sync(device)
    start = time.perf_counter()
    _, record = fit(data, settings, progress=False, fast=fast)
    sync(device)
    return time.perf_counter() - start, record


def line(label, seconds, note=""):
    print(f"{label:<44}{seconds:9.3f} s  {note}")


def dataloader_lines(times):
    for w, t in times.items():
        line(f"DataLoader, {w} workers", t)
    best = min(times, key=times.get)
    return best, times[best]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--batches",
        type=int,
        default=None,
        help="training steps per timed epoch (default: a "
        "full epoch on a GPU, 20 on a CPU)",
    )
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="use random images instead of CIFAR-10",
    )
    args = parser.parse_args()
    device = default_device()
    x, y, test_x, test_y, source = load(args.synthetic)
    gpu = device.type == "cuda"
    n = min(len(y), (args.batches or (391 if gpu else 20)) * BATCH)
    name = (
        torch.cuda.get_device_name()
        if gpu
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print(
        f"device: {name} | data: {source} | model {SIZES}, batch {BATCH}, "
        f"{n} images per timed epoch"
    )
    (gpu_run if gpu else cpu_run)(x, y, test_x, test_y, device, n)


def cpu_run(x, y, test_x, test_y, device, n, repeats=5):
    times = interleaved(
        device,
        {
            "hwlib": time_hwlib(x, y, device, n, timer=None),
            "bare": time_bare_loop(x, y, n, timer=None),
        },
        repeats,
    )
    (t_hwlib, med_hwlib, cpu_hwlib) = times["hwlib"]
    (t_bare, med_bare, cpu_bare) = times["bare"]
    note = f"(best of {repeats}, interleaved; median {{:.3f}} s)"
    line("hwlib eager epoch", t_hwlib, note.format(med_hwlib))
    line("bare inline matmul loop", t_bare, note.format(med_bare))
    best, t_loader = dataloader_lines(
        {w: time_dataloader(x, y, device, n, w) for w in (0, 2)}
    )
    print(
        f"ratio hwlib / bare loop:               {t_hwlib / t_bare:6.2f}x"
        f"  (goal: at most 1.2x; of the medians: {med_hwlib / med_bare:.2f}x"
        f"; of the CPU seconds: {cpu_hwlib / cpu_bare:.2f}x)"
    )
    print(
        f"ratio DataLoader ({best} workers) / hwlib:  "
        f"{t_loader / t_hwlib:6.2f}x"
    )
    print(
        "GPU goals (30 epochs <= 1.5 s; >= 50x DataLoader): not measured, "
        "no CUDA device"
    )


def gpu_run(x, y, test_x, test_y, device, n):
    data = DeviceData(*(t.to(device) for t in (x, y, test_x, test_y)))
    t_eager = time_hwlib(x, y, device, n)
    line("hwlib eager epoch (train only)", t_eager)
    t_fast, record = time_fit(data, device, fast=True)
    per_epoch = t_fast / GPU_EPOCHS
    line(
        f"hwlib fast path, {GPU_EPOCHS} epochs + test evals",
        t_fast,
        f"(goal: at most 1.5 s; {per_epoch * 1000:.0f} ms per epoch; "
        f"final test accuracy {record.final_test_acc:.3f})",
    )
    t_slow, slow = time_fit(data, device, fast=False)
    line(
        f"hwlib eager path, {GPU_EPOCHS} epochs + test evals",
        t_slow,
        f"(final test accuracy {slow.final_test_acc:.3f})",
    )
    best, t_loader = dataloader_lines(
        {
            w: time_dataloader(x, y, device, n, w, test=(test_x, test_y))
            for w in (0, 2, 4, 8)
        }
    )
    print(f"ratio fast path / eager path:          {t_slow / t_fast:6.1f}x")
    print(
        f"ratio DataLoader ({best} workers) epoch+eval / hwlib epoch+eval: "
        f"{t_loader / per_epoch:6.1f}x  (goal: at least 50x)"
    )


if __name__ == "__main__":
    main()
