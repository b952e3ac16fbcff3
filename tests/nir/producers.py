#!/usr/bin/env python3
"""Networks built, exported and simulated by the producers themselves (snnTorch and
Norse), for snn-train/tests/producers.rs.

Usage::

    python producers.py OUTDIR [--images 200] [--trained tests/nir]

Needs torch, snntorch 1.0.0, norse 1.1.0 and nir.  The weights are those of the two
snnTorch networks trained on MNIST and committed next to this script
(``snntorch-cnn.nir``, ``snntorch-dense.nir``, written by ``snntorch_mnist.py``); the
inputs are the first ``--images`` bundled MNIST test images (``data/mnist-subset``)
drawn into spikes by ``snntorch.spikegen.rate`` (probability pixel / 255).

Checks (NAME):

``snntorch-cnn``, ``snntorch-dense``
    the trained networks as trained: float weights, snnTorch's default subtractive
    reset (applied at the next step and not leaked, which NIR cannot say); imported
    with ``--reset subtract``: close, not equal.
``snntorch-cnn-exact``, ``snntorch-dense-exact``
    the same weights made whole-unit: each channel's weights and threshold scaled by
    one factor (which changes no spike of a LIF neuron without bias and with a reset
    to zero) so that its weights are integers in [-127, 127] times 2^-7 with one of
    magnitude 127, its threshold rounded to a whole unit; ``reset_mechanism="zero"``,
    which is NIR's hard reset (snnTorch zeroes the membrane at the next step before
    adding that step's input: our ``V = 0`` after the spike).  Only the leak's
    rounding can differ.
``norse-dense-exact``
    the exact dense network as Norse ``LIFBoxCell``s (dt = 1e-3, tau_mem_inv = 100:
    the same leak 0.9, a gain of 0.1 on the input, so the weights are 10 times the
    snnTorch ones), exported by ``norse.torch.utils.export_nir.to_nir``.  Norse 1.1.0
    writes ``tau = dt / tau_mem_inv``, which is dt times its time constant (1e-5 s
    for 10 ms at dt = 1e-3): read at ``dt^2`` (``--dt 1e-6``) it is the right network
    (``1 - dt^2 / (dt tau) = 1 - dt / tau`` and the gain ``dt^2 R / (dt tau)``).

For each NAME: ``NAME.nir`` (the producer's export), ``NAME.spikes.npy`` (int8,
``(N, T, *input shape)``, NIR's CHW order), ``NAME.popK.npy`` (int8, ``(N, neurons)``,
the spike count of every neuron of the K-th spiking layer in the producer's own
simulation, in our HWC order) and ``NAME.json`` (producer, dt, reset, T, exact,
images, populations).

Exporter bugs met (and what is done about them here; the importer needs nothing):
snnTorch 1.0.0 needs ``ignore_dims=[0]`` and full-shape ``beta``/``threshold`` (see
snntorch_mnist.py).  Norse 1.1.0's exporter fails on a ``Conv2d`` without bias, writes
``None`` for ``Flatten`` (so ``nir.write`` fails on any convolutional network that
flattens) and maps no pooling; with scalar ``LIFBoxParameters`` it writes
zero-dimensional arrays that ``nir.write`` refuses ("Scalar datasets don't support
chunk/filter options"): the Norse check is dense, with per-neuron parameters and zero
biases.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

import numpy as np
import torch
import nir
import snntorch as snn
from snntorch import spikegen, utils

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import snntorch_mnist as trained  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
UNIT = 2.0 ** -7


def mnist_subset(n: int) -> torch.Tensor:
    x, _ = trained.load(os.path.join(ROOT, "data", "mnist-subset"), "t10k")
    return x[:n]


def load_trained(trained_dir: str, name: str, make, reset: str) -> torch.nn.Sequential:
    """The network NAME with the weights of ``trained_dir/NAME.nir`` and ``reset``
    (snnTorch picks its state function when a ``Leaky`` is built)."""
    graph = nir.read(os.path.join(trained_dir, f"{name}.nir"))
    net = make(reset)
    # snnTorch names the nodes by module index: "0", "1", ..., "10".
    order = sorted((k for k in graph.nodes if k.isdigit()), key=int)
    weights = [graph.nodes[k].weight for k in order if hasattr(graph.nodes[k], "weight")]
    layers = [m for m in net if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(weights) == len(layers), name
    with torch.no_grad():
        for m, w in zip(layers, weights):
            m.weight.copy_(torch.as_tensor(np.asarray(w), dtype=torch.float32))
    return net


def whole_units(net: torch.nn.Sequential) -> None:
    """Scales each output channel's weights and its neurons' threshold by one factor so
    that the weights are integers times UNIT with a largest magnitude of 127, and rounds
    the threshold to a whole unit (the layer after an AvgPool2d sees the pooled map:
    the fold divides by 4, still whole units of UNIT / 4)."""
    mods = list(net)
    with torch.no_grad():
        for i, m in enumerate(mods):
            if not isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                continue
            lif = mods[i + 1]
            w = m.weight
            flat = w.reshape(w.shape[0], -1)
            scale = 127 * UNIT / flat.abs().max(dim=1).values.clamp_min(1e-6)
            q = torch.round(flat * scale[:, None] / UNIT).clamp(-127, 127)
            w.copy_((q * UNIT).reshape(w.shape))
            th = torch.round(scale / UNIT) * UNIT
            shape = lif.threshold.shape
            per = th.reshape((-1,) + (1,) * (len(shape) - 1)).expand(shape)
            lif.threshold = per.clone()


def record(net: torch.nn.Module, kinds, spikes: torch.Tensor, step) -> list:
    """Spike counts (N, *shape) of every module of ``kinds``, in order, over the T steps
    of ``spikes`` (T, N, ...); ``step(x)`` runs one step of ``net``."""
    mods = [m for m in net.modules() if isinstance(m, kinds)]
    counts = [None] * len(mods)

    def hook(i):
        def f(_m, _inp, out):
            z = out[0] if isinstance(out, tuple) else out
            counts[i] = z.detach().clone() if counts[i] is None else counts[i] + z.detach()
        return f

    handles = [m.register_forward_hook(hook(i)) for i, m in enumerate(mods)]
    with torch.no_grad():
        step(spikes)
    for h in handles:
        h.remove()
    return counts


def snntorch_counts(net, spikes):
    def step(s):
        utils.reset(net)
        for t in range(s.shape[0]):
            net(s[t])
    return record(net, snn.Leaky, spikes, step)


def norse_net(dense: torch.nn.Sequential):
    import norse.torch as norse

    def box(n):
        return norse.LIFBoxCell(norse.LIFBoxParameters(
            tau_mem_inv=torch.full((n,), 100.0), v_th=torch.ones(n),
            v_leak=torch.zeros(n), v_reset=torch.zeros(n)))

    fc = [m for m in dense if isinstance(m, torch.nn.Linear)]
    th = [m.threshold for m in dense if isinstance(m, snn.Leaky)]
    layers = []
    for m, t in zip(fc, th):
        lin = torch.nn.Linear(m.in_features, m.out_features)
        with torch.no_grad():
            # Norse's threshold is 1 and its gain 0.1: the same membrane in units of t.
            lin.weight.copy_(10.0 * m.weight / t[:, None])
            lin.bias.zero_()
        layers += [lin, box(m.out_features)]
    return norse.SequentialState(*layers), norse.LIFBoxCell


def write_check(out: str, name: str, meta: dict, spikes: torch.Tensor, counts: list) -> None:
    np.save(os.path.join(out, f"{name}.spikes.npy"),
            spikes.transpose(0, 1).to(torch.int8).numpy())
    for k, c in enumerate(counts):
        c = c.numpy()
        if c.ndim == 4:  # (N, C, H, W) -> our (N, H, W, C)
            c = c.transpose(0, 2, 3, 1)
        c = c.reshape(c.shape[0], -1)
        assert c.max() <= 127
        np.save(os.path.join(out, f"{name}.pop{k}.npy"), c.astype(np.int8))
    meta = dict(meta, images=int(spikes.shape[1]), populations=len(counts),
                timesteps=int(spikes.shape[0]))
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump(meta, f, indent=1)
    rates = ", ".join(f"{float(c.float().mean()) / spikes.shape[0]:.3f}" for c in counts)
    print(f"{name}: spikes per neuron and step {rates}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--trained", default=HERE, help="where snntorch_mnist.py wrote its networks")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    os.makedirs(args.outdir, exist_ok=True)
    x = mnist_subset(args.images)
    torch.manual_seed(7)
    spikes = spikegen.rate(x, num_steps=trained.T)  # (T, N, 1, 28, 28)
    version = f"snntorch {snn.__version__}, torch {torch.__version__}"
    names = []
    for name, make in (("snntorch-cnn", trained.cnn), ("snntorch-dense", trained.dense)):
        for check, exact in ((name, False), (f"{name}-exact", True)):
            net = load_trained(args.trained, name, make, "zero" if exact else "subtract")
            if exact:
                whole_units(net)
            trained.export(net, torch.zeros(1, 1, 28, 28), os.path.join(args.outdir, f"{check}.nir"))
            meta = {"producer": version, "dt": 1e-4, "exact": exact,
                    "reset": "hard" if exact else "subtract"}
            write_check(args.outdir, check, meta, spikes, snntorch_counts(net, spikes))
            names.append(check)
            if check == "snntorch-dense-exact":
                import norse
                from norse.torch.utils.export_nir import to_nir
                nnet, cell = norse_net(net)
                graph = to_nir(nnet, torch.zeros(784))
                nir.write(os.path.join(args.outdir, "norse-dense-exact.nir"), graph)
                flat = spikes.reshape(spikes.shape[0], spikes.shape[1], -1)

                def step(s):
                    state = None
                    for t in range(s.shape[0]):
                        _, state = nnet(s[t], state)
                counts = record(nnet, cell, flat, step)
                # Norse writes tau = dt / tau_mem_inv (dt times its tau): read at dt^2.
                meta = {"producer": f"norse {norse.__version__}, torch {torch.__version__}",
                        "dt": 1e-6, "exact": True, "reset": "hard"}
                write_check(args.outdir, "norse-dense-exact", meta, flat, counts)
                names.append("norse-dense-exact")
    with open(os.path.join(args.outdir, "checks.json"), "w") as f:
        json.dump(names, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
