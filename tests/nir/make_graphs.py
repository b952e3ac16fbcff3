#!/usr/bin/env python3
"""Writes the NIR test graphs for our importer.

Usage::

    python make_graphs.py OUTDIR

Every graph is built with nir's own API the way snnTorch's and Norse's
exporters build them (no batch dimension, float32 arrays, no dt stored
anywhere: the NAME.json sidecar tells the Rust test which dt to use).

Accepted graphs (each with NAME.spikes.npy, an int8 array (T, *input_shape) of
input spikes, and NAME.json = {"dt", "timesteps", "input_shape"}):

``lenet.nir``         snnTorch style, dt = 1e-4: Conv2d -> LIF -> AvgPool2d -> IF ->
                      Conv2d -> LIF -> AvgPool2d -> IF -> Flatten -> Affine -> LIF ->
                      Affine -> LI (input spikes include some -1)
``lenet_nopool.nir``  as lenet, but the last AvgPool2d goes straight into Flatten ->
                      Affine (the importer folds the pooling into the dense weights)
``dense.nir``         Norse style, dt = 1e-3 (r = 1, tau = 8e-3): Affine -> LIF ->
                      Affine -> LIF, classified by output spike counts
``if_only.nir``       Conv2d -> IF -> SumPool2d -> IF -> Flatten -> Linear -> IF: no
                      leak, so float and fixed-point simulations agree exactly
``residual.nir``      Conv2d -> LIF(a) -> Conv2d -> LIF(b) -> Conv2d -> LIF(c) with a
                      1x1 Conv2d shortcut LIF(a) -> LIF(c), then Flatten -> Affine -> LI

Refused graphs (one unsupported feature each): ``recurrent.nir``, ``bias.nir``,
``vleak.nir``, ``delay.nir``.

The weights are chosen so that quantisation is exact: the effective weights of
every output channel (the chain's linear map times the neuron's input gain) are
integers in [-127, 127] times a power-of-two unit, with at least one entry of
magnitude 127 per channel, and every threshold is an integer multiple of that
unit.  Float and fixed point then agree on the effective weights and the
thresholds; only the rounding of the leak can differ.

Everything is deterministic (fixed numpy seeds).  After writing, the script runs
reference.py's float simulation on each accepted graph and prints the spiking
rates of every population.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

import nir

T = 25  # time steps of every spike train
F32 = np.float32


# --------------------------------------------------------------------------
# Helpers.
# --------------------------------------------------------------------------
def int_weights(rng: np.random.Generator, shape, lo: int, hi: int = 127,
                sign: int = 1) -> np.ndarray:
    """Integers in [lo, hi] (within [-127, 127]) with one entry sign*127 per output row.

    Row = index along axis 0 (an output channel of a conv, a neuron of a dense
    layer), so that every channel's largest magnitude is exactly 127.
    """
    assert -127 <= lo <= hi <= 127
    w = rng.integers(lo, hi + 1, size=shape).astype(np.int64)
    flat = w.reshape(shape[0], -1)
    for o in range(shape[0]):
        flat[o, rng.integers(flat.shape[1])] = 127 * sign
    return w


def per_channel(values, shape) -> np.ndarray:
    """A per-neuron float32 array of `shape`, uniform within each channel (axis 0)."""
    v = np.asarray(values, dtype=F32).reshape((-1,) + (1,) * (len(shape) - 1))
    return np.broadcast_to(v, shape).astype(F32).copy()


def snntorch_lif(beta: float, threshold: np.ndarray, dt: float = 1e-4) -> nir.LIF:
    """snnTorch's Leaky export: tau = dt / (1 - beta), r = tau / dt, v_leak = 0."""
    beta = np.full(threshold.shape, beta, dtype=F32)
    tau = dt / (1 - beta)  # float32, as snnTorch computes it from torch tensors
    r = tau / dt
    return nir.LIF(tau=tau, r=r, v_leak=np.zeros_like(beta),
                   v_threshold=threshold.astype(F32))


def snntorch_li(beta: float, shape, dt: float = 1e-4) -> nir.LI:
    beta = np.full(shape, beta, dtype=F32)
    tau = dt / (1 - beta)
    return nir.LI(tau=tau, r=tau / dt, v_leak=np.zeros_like(beta))


def if_node(threshold: np.ndarray, dt: float) -> nir.IF:
    """An IF node with r = 1 / dt (input gain dt * r = 1)."""
    return nir.IF(r=np.full(threshold.shape, 1 / dt, dtype=F32),
                  v_threshold=threshold.astype(F32))


def norse_lif(threshold: np.ndarray, tau: float = 8e-3) -> nir.LIF:
    """Norse style: r = 1, tau_mem = tau (with dt = 1e-3: lam = 0.875, g = 1/8)."""
    shape = threshold.shape
    return nir.LIF(tau=np.full(shape, tau, dtype=F32), r=np.ones(shape, dtype=F32),
                   v_leak=np.zeros(shape, dtype=F32), v_threshold=threshold.astype(F32),
                   v_reset=np.zeros(shape, dtype=F32))


def conv(weight: np.ndarray, input_hw, stride=1, padding=0) -> nir.Conv2d:
    """A PyTorch-like Conv2d node with zero bias (float32)."""
    return nir.Conv2d(input_shape=tuple(input_hw), weight=weight.astype(F32),
                      stride=stride, padding=padding, dilation=1, groups=1,
                      bias=np.zeros(weight.shape[0], dtype=F32))


def affine(weight: np.ndarray, bias=None) -> nir.Affine:
    b = np.zeros(weight.shape[0], dtype=F32) if bias is None else np.asarray(bias, dtype=F32)
    return nir.Affine(weight=weight.astype(F32), bias=b)


def pool_args(k: int):
    return dict(kernel_size=np.array([k, k]), stride=np.array([k, k]),
                padding=np.array([0, 0]))


def rate_spikes(rng: np.random.Generator, shape, p: float, p_neg: float = 0.0) -> np.ndarray:
    """int8 spikes (T, *shape): +1 with probability p, -1 with probability p_neg."""
    u = rng.random((T,) + tuple(shape))
    s = np.zeros(u.shape, dtype=np.int8)
    s[u < p] = 1
    s[(u >= p) & (u < p + p_neg)] = -1
    return s


def sequential(names_nodes, input_shape, extra_edges=()) -> nir.NIRGraph:
    """A chain input -> nodes... -> output, plus extra edges."""
    nodes = {"input": nir.Input(input_type={"input": np.array(input_shape)})}
    edges = []
    prev = "input"
    for name, node in names_nodes:
        nodes[name] = node
        edges.append((prev, name))
        prev = name
    out_shape = nodes[prev].output_type["output"]
    nodes["output"] = nir.Output(output_type={"output": np.array(out_shape)})
    edges.append((prev, "output"))
    edges.extend(extra_edges)
    return nir.NIRGraph(nodes=nodes, edges=edges)


# Threshold bases (integer multiples of each layer's effective weight unit) of
# the spiking layers with a free threshold, in network order; channels add small
# offsets.  Tuned so that every population fires on 5%..40% of its neuron-steps
# with the spike trains below.
THRESHOLDS = {
    "lenet": [670, 1340, 1100],
    "lenet_nopool": [670, 1240, 4980],
    "dense": [2410, 800],
    "if_only": [535, 2050],
    "residual": [730, 970, 930],
    "cuba": [5000, 2000],
}


# --------------------------------------------------------------------------
# The accepted graphs.  Units u are powers of two; thresholds are k * u.
# --------------------------------------------------------------------------
def lenet(rng: np.random.Generator, nopool: bool) -> nir.NIRGraph:
    """snnTorch-style LeNet on 1x12x12 (dt = 1e-4, beta = 0.875, g = 1).

    Node names follow an exported nn.Sequential ("0", "1", ...); lenet_nopool
    keeps the numbering and has no node "7".
    """
    u = 2.0**-7  # weight unit of every layer (g = 1, so also the effective unit)
    th = THRESHOLDS["lenet_nopool" if nopool else "lenet"]
    w1 = int_weights(rng, (4, 1, 5, 5), -50) * u
    th1 = per_channel((th[0] + np.array([0, 10, 20, 30])) * u, (4, 12, 12))
    w2 = int_weights(rng, (6, 4, 5, 5), -60) * u
    th2 = per_channel((th[1] + np.arange(6) * 10) * u, (6, 6, 6))
    w3 = int_weights(rng, (16, 54), -60) * u
    # Without the IF after the last pooling, fc1 sees the 6x6x6 spikes of LIF "5"
    # through a 2x2 average: its effective weights are w3 / 4, whose unit u / 4 is a
    # power of two again.
    unit3 = u / 4 if nopool else u
    th3 = (np.arange(16) % 4 * 16 + th[2]) * unit3
    w4 = int_weights(rng, (10, 16), -127) * u

    nodes = [
        ("0", conv(w1, (12, 12), stride=1, padding=2)),
        ("1", snntorch_lif(0.875, th1)),
        ("2", nir.AvgPool2d(**pool_args(2))),
        ("3", if_node(np.full((4, 6, 6), 0.75, dtype=F32), 1e-4)),
        ("4", conv(w2, (6, 6), stride=1, padding=2)),
        ("5", snntorch_lif(0.875, th2)),
        ("6", nir.AvgPool2d(**pool_args(2))),
    ]
    if not nopool:
        nodes.append(("7", if_node(np.full((6, 3, 3), 0.75, dtype=F32), 1e-4)))
    nodes += [
        ("8", nir.Flatten(input_type={"input": np.array([6, 3, 3])}, start_dim=0, end_dim=-1)),
        ("9", affine(w3)),
        ("10", snntorch_lif(0.875, np.asarray(th3, dtype=F32))),
        ("11", affine(w4)),
        ("12", snntorch_li(0.875, (10,))),
    ]
    return sequential(nodes, (1, 12, 12))


def dense(rng: np.random.Generator) -> nir.NIRGraph:
    """Norse-style MLP 64 -> 32 -> 10 (dt = 1e-3, tau = 8e-3, r = 1: g = 1/8)."""
    u = 2.0**-4  # weight unit; effective unit u / 8
    w1 = int_weights(rng, (32, 64), -50) * u
    th = THRESHOLDS["dense"]
    th1 = (np.arange(32) % 4 * 24 + th[0]) * (u / 8)
    w2 = int_weights(rng, (10, 32), -60) * u
    th2 = (np.arange(10) % 3 * 16 + th[1]) * (u / 8)
    return sequential([
        ("fc1", affine(w1)),
        ("lif1", norse_lif(np.asarray(th1, dtype=F32))),
        ("fc2", affine(w2)),
        ("lif2", norse_lif(np.asarray(th2, dtype=F32))),
    ], (64,))


def if_only(rng: np.random.Generator) -> nir.NIRGraph:
    """No leak anywhere (dt = 1e-4, r = 1/dt): float and fixed agree exactly."""
    dt = 1e-4
    u = 2.0**-6
    w1 = int_weights(rng, (3, 1, 3, 3), -40) * u
    th = THRESHOLDS["if_only"]
    th1 = per_channel((th[0] + np.array([0, 20, 40])) * u, (3, 8, 8))
    w3 = int_weights(rng, (10, 48), -60) * u
    th3 = np.asarray((np.arange(10) % 5 * 20 + th[1]) * u, dtype=F32)
    return sequential([
        ("conv", conv(w1, (8, 8), stride=1, padding=1)),
        ("if1", if_node(th1, dt)),
        ("pool", nir.SumPool2d(**pool_args(2))),
        # Sum of 2x2 spikes: fires once more than one spike has arrived since reset.
        ("if2", if_node(np.full((3, 4, 4), 1.0, dtype=F32), dt)),
        ("flat", nir.Flatten(input_type={"input": np.array([3, 4, 4])}, start_dim=0, end_dim=-1)),
        ("linear", nir.Linear(weight=w3.astype(F32))),
        ("if3", if_node(th3, dt)),
    ], (1, 8, 8))


def snntorch_synaptic(alpha: float, beta: float, threshold: np.ndarray,
                      dt: float = 1e-4) -> nir.CubaLIF:
    """snnTorch's Synaptic export: tau_syn = dt / (1 - alpha), tau_mem = dt / (1 - beta),
    r = tau_mem / dt, w_in = tau_syn / dt (both input gains 1), v_leak = 0."""
    shape = threshold.shape
    tau_syn = np.full(shape, dt / (1 - alpha), dtype=F32)
    tau_mem = np.full(shape, dt / (1 - beta), dtype=F32)
    return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt,
                       v_leak=np.zeros(shape, dtype=F32), v_threshold=threshold.astype(F32),
                       v_reset=np.zeros(shape, dtype=F32), w_in=tau_syn / dt)


def cuba(rng: np.random.Generator) -> nir.NIRGraph:
    """Current-based MLP 64 -> 24 -> 10 -> CubaLI (snnTorch Synaptic style, dt = 1e-4):
    alpha / beta = 0.5 / 0.9375 (decays 16384 and 30720 exactly) in the first layer and
    the output, 0.75 / 0.875 in the second, all input gains 1."""
    u = 2.0**-4
    w1 = int_weights(rng, (24, 64), -50) * u
    th = THRESHOLDS["cuba"]
    th1 = (np.arange(24) % 4 * 24 + th[0]) * u
    w2 = int_weights(rng, (10, 24), -60) * u
    th2 = (np.arange(10) % 3 * 16 + th[1]) * u
    w3 = int_weights(rng, (10, 10), -60) * u
    out = snntorch_synaptic(0.5, 0.9375, np.ones(10, dtype=F32))
    li = nir.CubaLI(tau_syn=out.tau_syn, tau_mem=out.tau_mem, r=out.r, v_leak=out.v_leak,
                    w_in=out.w_in)
    return sequential([
        ("fc1", affine(w1)),
        ("cuba1", snntorch_synaptic(0.5, 0.9375, np.asarray(th1, dtype=F32))),
        ("fc2", affine(w2)),
        ("cuba2", snntorch_synaptic(0.75, 0.875, np.asarray(th2, dtype=F32))),
        ("fc3", affine(w3)),
        ("cubali", li),
    ], (64,))


def residual(rng: np.random.Generator) -> nir.NIRGraph:
    """A residual block: LIF(c) sums conv_c(LIF(b)) and a 1x1 shortcut of LIF(a).

    beta = 0.9375 (lam = 1 - 2**-4), snnTorch style with dt = 1e-4 (g = 1).
    """
    u = 2.0**-7
    wa = int_weights(rng, (4, 2, 3, 3), -40) * u
    th = THRESHOLDS["residual"]
    tha = per_channel((th[0] + np.arange(4) * 20) * u, (4, 8, 8))
    wb = int_weights(rng, (4, 4, 3, 3), -50) * u
    thb = per_channel((th[1] + np.arange(4) * 20) * u, (4, 8, 8))
    wc = int_weights(rng, (4, 4, 3, 3), -50) * u
    # Shortcut entries stay within the channel's 127 (conv_c holds the +-127).
    ws = rng.integers(-30, 101, size=(4, 4, 1, 1)) * u
    thc = per_channel((th[2] + np.arange(4) * 20) * u, (4, 8, 8))
    wf = int_weights(rng, (10, 256), -127) * u
    nodes = {
        "input": nir.Input(input_type={"input": np.array([2, 8, 8])}),
        "conv_a": conv(wa, (8, 8), padding=1),
        "lif_a": snntorch_lif(0.9375, tha),
        "conv_b": conv(wb, (8, 8), padding=1),
        "lif_b": snntorch_lif(0.9375, thb),
        "conv_c": conv(wc, (8, 8), padding=1),
        "shortcut": conv(ws, (8, 8), stride=1, padding=0),
        "lif_c": snntorch_lif(0.9375, thc),
        "flatten": nir.Flatten(input_type={"input": np.array([4, 8, 8])}, start_dim=0, end_dim=-1),
        "fc": affine(wf),
        "li": snntorch_li(0.9375, (10,)),
        "output": nir.Output(output_type={"output": np.array([10])}),
    }
    edges = [
        ("input", "conv_a"), ("conv_a", "lif_a"),
        ("lif_a", "conv_b"), ("conv_b", "lif_b"),
        ("lif_b", "conv_c"), ("conv_c", "lif_c"),
        ("lif_a", "shortcut"), ("shortcut", "lif_c"),
        ("lif_c", "flatten"), ("flatten", "fc"), ("fc", "li"), ("li", "output"),
    ]
    return nir.NIRGraph(nodes=nodes, edges=edges)


# --------------------------------------------------------------------------
# Refused graphs: a small dense net with one unsupported feature each.
# --------------------------------------------------------------------------
def refused(rng: np.random.Generator) -> dict:
    u = 2.0**-4
    w1 = int_weights(rng, (6, 8), -50) * u
    w2 = int_weights(rng, (4, 6), -50) * u
    th6 = np.full(6, 4.0, dtype=F32)
    th4 = np.full(4, 4.0, dtype=F32)
    graphs = {}

    # lif1 -> rec -> lif1: lif1 sums fc1 and its own recurrent input.
    graphs["recurrent"] = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([8])}),
            "fc1": affine(w1),
            "lif1": norse_lif(th6),
            "rec": affine(int_weights(rng, (6, 6), -50) * u),
            "fc2": affine(w2),
            "lif2": norse_lif(th4),
            "output": nir.Output(output_type={"output": np.array([4])}),
        },
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "rec"), ("rec", "lif1"),
               ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")],
    )

    graphs["bias"] = sequential(
        [("fc1", affine(w1, bias=np.full(6, 0.25))), ("lif1", norse_lif(th6)),
         ("fc2", affine(w2)), ("lif2", norse_lif(th4))], (8,))

    leaky = norse_lif(th6)
    leaky.v_leak = np.full(6, 0.5, dtype=F32)
    graphs["vleak"] = sequential([("fc1", affine(w1)), ("lif1", leaky),
                                  ("fc2", affine(w2)), ("lif2", norse_lif(th4))], (8,))

    graphs["delay"] = sequential(
        [("fc1", affine(w1)), ("delay1", nir.Delay(delay=np.full(6, 2e-3, dtype=F32))),
         ("lif1", norse_lif(th6)), ("fc2", affine(w2)), ("lif2", norse_lif(th4))], (8,))
    return graphs


# --------------------------------------------------------------------------
# Main.
# --------------------------------------------------------------------------
ACCEPTED = {
    # name: (builder, dt, input shape, p(+1), p(-1), seed)
    "lenet": (lambda r: lenet(r, nopool=False), 1e-4, (1, 12, 12), 0.28, 0.04, 1),
    "lenet_nopool": (lambda r: lenet(r, nopool=True), 1e-4, (1, 12, 12), 0.28, 0.04, 2),
    "dense": (dense, 1e-3, (64,), 0.3, 0.0, 3),
    "if_only": (if_only, 1e-4, (1, 8, 8), 0.3, 0.0, 4),
    "residual": (residual, 1e-4, (2, 8, 8), 0.3, 0.0, 5),
    "cuba": (cuba, 1e-4, (64,), 0.3, 0.0, 6),
}


def write_all(outdir: str) -> None:
    os.makedirs(outdir, exist_ok=True)
    for name, (build, dt, shape, p, p_neg, seed) in ACCEPTED.items():
        rng = np.random.default_rng(seed)
        graph = build(rng)
        nir.write(os.path.join(outdir, f"{name}.nir"), graph)
        spikes = rate_spikes(np.random.default_rng(1000 + seed), shape, p, p_neg)
        np.save(os.path.join(outdir, f"{name}.spikes.npy"), spikes)
        with open(os.path.join(outdir, f"{name}.json"), "w") as f:
            json.dump({"dt": dt, "timesteps": T, "input_shape": list(shape)}, f)
            f.write("\n")
    for name, graph in refused(np.random.default_rng(99)).items():
        nir.write(os.path.join(outdir, f"{name}.nir"), graph)


def report(outdir: str) -> bool:
    """Float-simulates every accepted graph and prints its spiking rates."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    import reference

    ok = True
    for name, (_, dt, *_rest) in ACCEPTED.items():
        net = reference.load(os.path.join(outdir, f"{name}.nir"))
        spikes = np.load(os.path.join(outdir, f"{name}.spikes.npy"))
        res = reference.simulate_float(net, spikes, dt)
        rates = []
        for pop in res["populations"]:
            rate = sum(pop["counts"]) / (len(pop["counts"]) * res["timesteps"])
            flag = "" if 0.05 <= rate <= 0.40 else " (!)"
            ok &= not flag
            rates.append(f"{pop['node']} {100 * rate:.1f}%{flag}")
        print(f"{name}: " + ", ".join(rates) + f"; class {res['class']}")
    return ok


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 1
    write_all(sys.argv[1])
    if not report(sys.argv[1]):
        print("warning: a population fires outside 5%..40% of its neuron-steps", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
