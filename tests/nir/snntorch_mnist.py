#!/usr/bin/env python3
"""Trains the two snnTorch networks of the NIR producer check on MNIST and exports them
with snnTorch's own exporter (``snntorch.export_nir.export_to_nir``).

Usage::

    python snntorch_mnist.py MNIST_DIR OUTDIR [--epochs 1] [--threads 1]

MNIST_DIR holds the four gzipped IDX files (``../shared/data/mnist``).  Writes

``OUTDIR/snntorch-cnn.nir``    Conv2d(1,12,5) - Leaky - AvgPool2d(2) - Conv2d(12,32,5) -
                               Leaky - AvgPool2d(2) - Flatten - Linear(512,10) - Leaky
``OUTDIR/snntorch-dense.nir``  Linear(784,128) - Leaky - Linear(128,10) - Leaky
``OUTDIR/snntorch-mnist.json`` per network: T, beta, reset, epochs, training seconds, and
                               snnTorch's own accuracy on the 10,000 test images

The networks are trained as the snnTorch tutorials train them: input spikes from
``spikegen.rate`` (probability pixel / 255: ``--encoding rate:1`` here), T = 25, the
rate-coded cross-entropy on output spike counts (``SF.ce_rate_loss``), Adam, no biases,
``reset_mechanism="subtract"`` (snnTorch's default).

snnTorch 1.0.0's exporter needs two things from the network (exporter bugs met with
nir 1.0.6-1.0.8 and nirtorch 2.0.5-2.6): the sample input of ``export_to_nir`` carries a
batch dimension that must be named in ``ignore_dims=[0]``, and ``Leaky``'s ``beta`` and
``threshold`` must have the layer's full shape: with the usual scalars the exporter
writes zero-dimensional ``LIF`` parameters and ``nir``'s type inference refuses the
graph ("type mismatch: 0.output: [[3]] -> 1.input: []").
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import nir
import snntorch as snn
from snntorch import functional as SF
from snntorch import spikegen, utils
from snntorch.export_nir import export_to_nir

T = 25
BETA = 0.9


def idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(mnist_dir: str, split: str):
    images = idx(os.path.join(mnist_dir, f"{split}-images-idx3-ubyte.gz"))
    labels = idx(os.path.join(mnist_dir, f"{split}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def leaky(shape, reset: str = "subtract", output: bool = False, beta: float = BETA) -> snn.Leaky:
    """A ``Leaky`` with full-shape parameters (what the exporter needs, see above)."""
    return snn.Leaky(
        beta=torch.full(shape, beta),
        threshold=torch.ones(shape),
        init_hidden=True,
        output=output,
        reset_mechanism=reset,
    )


def cnn(reset: str = "subtract", beta: float = BETA) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 12, 5, bias=False), leaky((12, 24, 24), reset, beta=beta),
        torch.nn.AvgPool2d(2),
        torch.nn.Conv2d(12, 32, 5, bias=False), leaky((32, 8, 8), reset, beta=beta),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 4 * 4, 10, bias=False), leaky((10,), reset, True, beta),
    )


def dense(reset: str = "subtract", beta: float = BETA) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, 128, bias=False), leaky((128,), reset, beta=beta),
        torch.nn.Linear(128, 10, bias=False), leaky((10,), reset, True, beta),
    )


def run(net: torch.nn.Sequential, spikes: torch.Tensor) -> torch.Tensor:
    """Output spikes (T, batch, 10) of ``net`` on input spikes (T, batch, ...)."""
    utils.reset(net)
    out = []
    for t in range(spikes.shape[0]):
        spk, _ = net(spikes[t])
        out.append(spk)
    return torch.stack(out)


def export(net: torch.nn.Sequential, sample: torch.Tensor, path: str) -> None:
    graph = export_to_nir(net, sample, ignore_dims=[0])
    tmp = path + ".tmp"
    nir.write(tmp, graph)
    os.replace(tmp, path)


def accuracy(net, x, y, seed: int) -> float:
    torch.manual_seed(seed)
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 500):
            spk = run(net, spikegen.rate(x[i:i + 500], num_steps=T))
            correct += int((spk.sum(0).argmax(1) == y[i:i + 500]).sum())
    return 100.0 * correct / len(x)


def train(net, x, y, epochs: int, seed: int) -> float:
    torch.manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    loss_fn = SF.ce_rate_loss()
    start = time.time()
    for epoch in range(epochs):
        order = torch.randperm(len(x))
        for b, i in enumerate(range(0, len(x), 128)):
            idx_ = order[i:i + 128]
            spk = run(net, spikegen.rate(x[idx_], num_steps=T))
            loss = loss_fn(spk, y[idx_])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if b % 100 == 0:
                print(f"  epoch {epoch + 1} batch {b} loss {loss.item():.4f}", flush=True)
    return time.time() - start


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mnist_dir")
    ap.add_argument("outdir")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    xtr, ytr = load(args.mnist_dir, "train")
    xte, yte = load(args.mnist_dir, "t10k")
    os.makedirs(args.outdir, exist_ok=True)
    results = {}
    for name, make, sample in (
        ("snntorch-cnn", cnn, torch.zeros(1, 1, 28, 28)),
        ("snntorch-dense", dense, torch.zeros(1, 1, 28, 28)),
    ):
        torch.manual_seed(1)
        net = make()
        secs = train(net, xtr, ytr, args.epochs, seed=2)
        acc = accuracy(net, xte, yte, seed=3)
        print(f"{name}: snnTorch accuracy {acc:.2f}% on {len(xte)} test images at T = {T} "
              f"({secs:.0f} s of training)", flush=True)
        export(net, sample, os.path.join(args.outdir, f"{name}.nir"))
        results[name] = {
            "timesteps": T, "beta": BETA, "threshold": 1.0, "reset": "subtract",
            "encoding": "rate:1", "epochs": args.epochs, "train_seconds": round(secs),
            "snntorch_accuracy": acc, "test_images": len(xte),
            "snntorch": snn.__version__, "torch": torch.__version__,
            "nir": nir.__version__ if hasattr(nir, "__version__") else "",
        }
    path = os.path.join(args.outdir, "snntorch-mnist.json")
    with open(path + ".tmp", "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
