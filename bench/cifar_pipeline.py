"""Benchmark: hwlib's device-resident CIFAR-10 pipeline against the usual alternatives.

Measured side by side in one run, on one device, with the same model (the chapter's MLP
3072-512-512-10, SGD with momentum, batch 128, random-crop augmentation):

1. hwlib's pipeline (uint8 data on the device, batches cut by index, crop and normalise there)
   against a standard torchvision DataLoader pipeline (PIL images, ToTensor, RandomCrop(32, 4),
   Normalize, shuffling, the best of several worker counts), training the same hwlib model.
2. On the CPU: hwlib's epoch against a bare loop of the same arithmetic written inline with
   torch matrix products and no modules, optimiser or pipeline around it.
3. On a GPU: the wall time of 30 augmented epochs with hwlib.

Usage: python bench/cifar_pipeline.py [--batches N] [--synthetic]
CIFAR-10 comes from $HWLIB_CIFAR10 (or data/); --synthetic uses random images of the same shape
(timings do not depend on the pixel values).
"""
from __future__ import annotations

import argparse
import time

import torch
from PIL import Image

from hwlib.nn import SGD, CrossEntropyLoss, mlp
from hwlib.train import CIFAR10_MEAN, CIFAR10_STD, DeviceData, default_device, train_epoch

SIZES = [3072, 512, 512, 10]
BATCH = 128


def load(synthetic: bool):
    if not synthetic:
        try:
            from hwlib.data import load_cifar10

            data = load_cifar10(download=False)
            return data.train_x, data.train_y, "CIFAR-10 (" + data.source + ")"
        except Exception as err:  # noqa: BLE001 - any failure falls back to synthetic data
            print(f"note: no CIFAR-10 ({type(err).__name__}); using synthetic images of the same shape")
    g = torch.Generator().manual_seed(0)
    return (torch.randint(0, 256, (50000, 3, 32, 32), dtype=torch.uint8, generator=g),
            torch.randint(0, 10, (50000,), generator=g), "synthetic")


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_hwlib(x, y, device, batches):
    """Seconds for `batches` training steps of hwlib's pipeline (data already on the device)."""
    n = batches * BATCH
    g = torch.Generator(device=device).manual_seed(0)
    model = mlp(SIZES, generator=g, device=device)
    data_x, data_y = x[:n].to(device), y[:n].to(device)
    args = (CrossEntropyLoss(), SGD(model, 0.01, 0.9), data_x, data_y, BATCH, g, True)
    train_epoch(model, *args)  # warm-up
    sync(device)
    start = time.perf_counter()
    train_epoch(model, *args)
    sync(device)
    return time.perf_counter() - start


class PILDataset(torch.utils.data.Dataset):
    """What torchvision's CIFAR10 dataset does per item: a PIL image from the uint8 array."""

    def __init__(self, x, y, transform):
        self.x, self.y, self.transform = x.permute(0, 2, 3, 1).numpy(), y.tolist(), transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.x[i])), self.y[i]


def time_dataloader(x, y, device, batches, workers):
    """Seconds for `batches` training steps fed by a torchvision DataLoader pipeline."""
    from torchvision import transforms

    n = batches * BATCH
    transform = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.ToTensor(),
                                    transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD)])
    loader = torch.utils.data.DataLoader(PILDataset(x[:n], y[:n], transform), batch_size=BATCH, shuffle=True,
                                         num_workers=workers, pin_memory=device.type == "cuda",
                                         persistent_workers=workers > 0)
    model = mlp(SIZES, generator=torch.Generator(device=device).manual_seed(0), device=device)
    loss_fn, opt = CrossEntropyLoss(), SGD(model, 0.01, 0.9)

    def epoch():
        for images, labels in loader:
            images, labels = images.to(device, non_blocking=True).flatten(1), labels.to(device, non_blocking=True)
            loss_fn.forward(model.forward(images), labels)
            model.backward(loss_fn.backward())
            opt.step()

    epoch()  # warm-up (starts the workers)
    sync(device)
    start = time.perf_counter()
    epoch()
    sync(device)
    return time.perf_counter() - start


def time_bare_loop(x, y, batches):
    """Seconds for the same training steps as plain inline torch arithmetic (CPU)."""
    n = batches * BATCH
    g = torch.Generator().manual_seed(0)
    model = mlp(SIZES, generator=g)  # only to get identically initialised tensors
    (w1, b1), (w2, b2), (w3, b3) = [(m.weight.clone(), m.bias.clone()) for m in model.modules[::2]]
    params = [w1, b1, w2, b2, w3, b3]
    bufs = [torch.zeros_like(p) for p in params]
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    xs, ys = x[:n], y[:n]

    def epoch():
        order = torch.randperm(n, generator=g)
        for s in range(0, n, BATCH):
            idx = order[s:s + BATCH]
            pad = torch.nn.functional.pad(xs[idx], (4, 4, 4, 4))
            t, l = torch.randint(0, 9, (2, len(idx)), generator=g)
            rows = (t[:, None] + torch.arange(32))[:, None, :, None]
            cols = (l[:, None] + torch.arange(32))[:, None, None, :]
            img = pad[torch.arange(len(idx))[:, None, None, None], torch.arange(3)[None, :, None, None], rows, cols]
            a0 = ((img.float() / 255 - mean) / std).flatten(1)
            z1 = torch.addmm(b1, a0, w1.T); a1 = z1.clamp(min=0)
            z2 = torch.addmm(b2, a1, w2.T); a2 = z2.clamp(min=0)
            z3 = torch.addmm(b3, a2, w3.T)
            p = torch.softmax(z3, 1); p[torch.arange(len(idx)), ys[idx]] -= 1; d3 = p / len(idx)
            d2 = (d3 @ w3) * (z2 > 0)
            d1 = (d2 @ w2) * (z1 > 0)
            grads = [d1.T @ a0, d1.sum(0), d2.T @ a1, d2.sum(0), d3.T @ a2, d3.sum(0)]
            for prm, buf, grd in zip(params, bufs, grads):
                buf.mul_(0.9).add_(grd)
                prm.sub_(buf, alpha=0.01)

    epoch()
    start = time.perf_counter()
    epoch()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=None, help="training steps per timed pass (default: a full epoch on a GPU, 120 on a CPU)")
    parser.add_argument("--synthetic", action="store_true", help="use random images instead of CIFAR-10")
    args = parser.parse_args()
    device = default_device()
    x, y, source = load(args.synthetic)
    batches = args.batches or (390 if device.type == "cuda" else 120)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name} | data: {source} | model {SIZES}, batch {BATCH}, {batches} steps per timed pass")

    t_hwlib = time_hwlib(x, y, device, batches)
    print(f"hwlib pipeline:                {t_hwlib:8.3f} s")
    worker_options = [0, 2, 4, 8] if device.type == "cuda" else [0, 2]
    t_loader = {w: time_dataloader(x, y, device, batches, w) for w in worker_options}
    for w, t in t_loader.items():
        print(f"DataLoader, {w} workers:         {t:8.3f} s")
    best_workers = min(t_loader, key=t_loader.get)
    print(f"ratio DataLoader (best: {best_workers} workers) / hwlib: {t_loader[best_workers] / t_hwlib:.2f}x")

    if device.type == "cpu":
        t_bare = time_bare_loop(x, y, batches)
        print(f"bare matmul loop:              {t_bare:8.3f} s")
        print(f"ratio hwlib / bare loop: {t_hwlib / t_bare:.2f}x  (goal: at most 1.2x)")
    else:
        from hwlib.train import fit

        data = DeviceData(x.to(device), y.to(device), x[:10000].to(device), y[:10000].to(device))
        fit(data, epochs=1, augment=True, progress=False)  # warm-up
        sync(device)
        start = time.perf_counter()
        fit(data, epochs=30, augment=True, progress=False)
        sync(device)
        print(f"30 augmented epochs with hwlib on {name}: {time.perf_counter() - start:.2f} s (goal: at most 2 s)")


if __name__ == "__main__":
    main()
