#!/usr/bin/env python3
"""Reference simulator for the NIR graphs our importer accepts.

Usage::

    python reference.py GRAPH.nir SPIKES.npy [--dt DT] --mode float|fixed
                        [--reset hard|subtract] [--out OUT.json]

The graph is read with ``nir.read`` and simulated for ``T`` steps, where the
spikes file holds an integer array of shape ``(T, *input_shape)`` with values in
{-1, 0, +1}.  Two simulations are available:

``float``
    NIR's continuous-time neurons, discretised with forward Euler at step ``dt``
    (input of step t acts at step t)::

        LIF: v = v + (dt/tau) (v_leak - v) + (dt r/tau) I   (v_leak = 0)
        IF:  v = v + dt r I
        LI / I: as LIF / IF, output v (no spikes)
        CubaLIF / CubaLI: first i = i - (dt/tau_syn) i + (dt w_in/tau_syn) I, then
            as LIF / LI (tau = tau_mem) driven by i
        z = v > v_threshold;  hard reset v = 0 where z,  subtract: v -= v_threshold

``fixed``
    The integer engine of ``snn-core`` under the quantisation contract of
    docs/model-format.md, with the choices of our importer
    (snn-train/src/nir/to_model.rs).  Every maximal chain of synaptic nodes
    between a source population (the Input or a spiking node) and a destination
    neuron node is one linear map M; row i times the destination's gain g_i is
    quantised to i8 with one f32 scale per output channel (one for the output
    integrator); thresholds and the leak are rounded to integers and membranes
    are integers::

        U = V + q @ spikes;  z = U > theta
        V = 0 (hard) | leak(U - theta) (subtract) where z,  leak(U) elsewhere
        V = clamp(V, -2^30, 2^30 - 1);   leak(u) = (u * lam_bits + 2^14) >> 15
        output integrator: M = clamp(leak(M + q @ spikes), -2^30, 2^30 - 1)

    A current-based node (CubaLIF, CubaLI) keeps an integer current S, its
    weights carry both gains (dt r/tau_mem times dt w_in/tau_syn), and its
    decay syn_bits = round(32768 (1 - dt/tau_syn)) (``snn_synapse`` when within
    1 of it)::

        S = clamp(S + q @ spikes, -2^30, 2^30 - 1);  U = V + S;  S = syn(S)

    Our exporter's sidecar metadata is honoured as the importer does:
    ``snn_scale`` on a chain's weight node when every effective weight is a
    whole number of it, then ``snn_threshold``; ``snn_leak`` when within 1 of
    the computed leak; ``snn_shortcut = "identity"`` on a 1x1 shortcut
    convolution.  A pooling into IF neurons with 2x2 windows, stride 2 and whole
    thresholds is our pooling layer (one unit per input spike).  See the comment
    above ``class Chain`` for the details.

Time step: ``--dt``, else the graph's metadata ``dt``, else 1e-4 s (snnTorch's).
Reset: ``--reset`` for every spiking node, else each node's ``snn_reset``
metadata, else hard (applied in both modes).

Each step the Input emits its spikes, then every node is evaluated in
topological order (ties broken by node name) from its predecessors' outputs of
the same step; a node with several incoming edges receives their sum.

Output (JSON)::

    {"graph": ..., "mode": "float"|"fixed", "dt": ..., "dt_source": ...,
     "timesteps": T,
     "populations": [{"node": NAME, "kind": "LIF"|"IF", "shape": [...],
                      "counts": [...]}, ...],
     "output_kind": "LI"|"I"|"spikes",
     "output": [...], "class": k}

``counts`` are spikes per neuron over the run, flattened channel-last: a
(C, H, W) population is transposed to (H, W, C) and then raveled; a (N,) one is
kept as is.  ``output`` is laid out the same way.  It holds the final LI/I
membrane (float mode), the integer output membrane (fixed mode) or the spike
counts of the spiking node that feeds the Output.  ``class`` is the argmax of
``output`` (lowest index on ties).

Exit status: 0 ok; 2 the graph is refused (outside what the importer supports;
the message names the node); 3 a valid graph this script cannot simulate (a
chain too large for a dense matrix); 1 other errors (bad spikes file).
Only nir, numpy and h5py are needed.
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

import nir

# --------------------------------------------------------------------------
# Constants of the fixed-point contract (snn-core).
# --------------------------------------------------------------------------
WEIGHT_LIMIT = 127
MIN_WEIGHT_SCALE = np.float32(1e-12)
MAX_THRESHOLD = 2**30
MAX_SHORTCUT_GAIN = 2**29
STATE_MIN = -(2**30)
STATE_MAX = 2**30 - 1
LEAK_ONE = 32768  # U1F15 one

# Single Conv2d, pooling and identity chains are applied as integer ops; any
# other chain is materialised as a dense matrix (unit vectors pushed through it in
# float64), which every tensor involved must keep below this many elements.
DENSE_LIMIT = 1 << 23

SPIKING = ("LIF", "IF", "CubaLIF")
INTEGRATORS = ("LI", "I", "CubaLI")
CUBA = ("CubaLIF", "CubaLI")
LEAKY = ("LIF", "LI") + CUBA
NEURONS = SPIKING + INTEGRATORS
SYNAPTIC = ("Affine", "Linear", "Conv2d", "Flatten", "SumPool2d", "AvgPool2d", "Scale")


class Refused(Exception):
    """The graph uses something our importer does not support (exit status 2)."""


class Unsupported(Exception):
    """A valid graph that this reference implementation cannot simulate (status 3)."""


# --------------------------------------------------------------------------
# Small numeric helpers.
# --------------------------------------------------------------------------
def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round to nearest, ties away from zero, in x's own dtype (like Rust's round).

    ``x - trunc(x)`` is exact in binary floating point, so unlike
    ``floor(|x| + 0.5)`` this never rounds 0.49999997 up.
    """
    x = np.asarray(x)
    t = np.trunc(x)
    frac = x - t
    return t + np.where(np.abs(frac) >= 0.5, np.sign(x), 0).astype(x.dtype)


def leak_apply(u: np.ndarray, lam_bits: int) -> np.ndarray:
    """leak(u) = (u * lam_bits + 2^14) >> 15 on int64 (arithmetic shift = floor)."""
    return (u * np.int64(lam_bits) + np.int64(1 << 14)) >> np.int64(15)


def channel_last(a: np.ndarray) -> np.ndarray:
    """Flatten a population tensor in our engine's layout (HWC for 3-D, else as is)."""
    a = np.asarray(a)
    if a.ndim == 3:
        a = a.transpose(1, 2, 0)
    return a.ravel()


def _pair(v, name: str, node: str) -> Tuple[int, int]:
    """An int or a 1/2-element array as an (h, w) pair."""
    a = np.asarray(v).ravel()
    if a.size == 1:
        return int(a[0]), int(a[0])
    if a.size == 2:
        return int(a[0]), int(a[1])
    raise Refused(f"node '{node}': {name} must be an int or a pair, got {v!r}")


def _as_str(v) -> str:
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf8")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _as_str(v[()])
    return str(v)


def _shape_str(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# --------------------------------------------------------------------------
# Synaptic operators on batches: x has shape (B, *in_shape).
# --------------------------------------------------------------------------
def conv2d(x: np.ndarray, w: np.ndarray, stride, pad, dilation, groups: int) -> np.ndarray:
    """PyTorch Conv2d (cross-correlation) without bias on a batch (B, C, H, W).

    pad = (top, bottom, left, right); works for float and integer arrays.
    """
    sh, sw = stride
    dh, dw = dilation
    pt, pb, pl, pr = pad
    b, c, _, _ = x.shape
    cout, cin_g, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (eh, ew), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]  # (B, C, Ho, Wo, kh, kw)
    ho, wo = win.shape[2], win.shape[3]
    cout_g = cout // groups
    out = np.empty((b, cout, ho, wo), dtype=np.result_type(x, w))
    for g in range(groups):
        xs = win[:, g * cin_g:(g + 1) * cin_g]
        ws = w[g * cout_g:(g + 1) * cout_g]
        # (B, Ho, Wo, Cout_g)
        r = np.tensordot(xs, ws, axes=([1, 4, 5], [1, 2, 3]))
        out[:, g * cout_g:(g + 1) * cout_g] = r.transpose(0, 3, 1, 2)
    return out


def sum_pool2d(x: np.ndarray, kernel, stride, padding) -> np.ndarray:
    """Sum over (kh, kw) windows of a zero-padded batch (B, C, H, W) (floor mode)."""
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    return win[:, :, ::sh, ::sw].sum(axis=(4, 5))


def conv_out_len(n: int, k: int, s: int, p_total: int, d: int) -> int:
    return (n + p_total - d * (k - 1) - 1) // s + 1


# --------------------------------------------------------------------------
# The prepared network.
# --------------------------------------------------------------------------
@dataclass
class Node:
    """One node of the graph with its resolved shapes and parameters."""

    name: str
    kind: str
    nir: object
    preds: List[str] = field(default_factory=list)
    succs: List[str] = field(default_factory=list)
    in_shape: Tuple[int, ...] = ()
    out_shape: Tuple[int, ...] = ()
    # Synaptic nodes: a batched forward op (B, *in) -> (B, *out).
    op: Optional[Callable[[np.ndarray], np.ndarray]] = None
    # Conv2d / pooling parameters (pad = top, bottom, left, right).
    conv: Optional[dict] = None
    pool: Optional[dict] = None
    # Neuron parameters, broadcast to out_shape (float64).
    params: Dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(np.prod(self.out_shape, dtype=np.int64))


@dataclass
class Net:
    nodes: Dict[str, Node]
    order: List[str]  # topological, ties by name
    input: str
    output: str
    metadata: dict

    def spiking(self) -> List[str]:
        return [n for n in self.order if self.nodes[n].kind in SPIKING]


def _metadata(obj) -> dict:
    md = getattr(obj, "metadata", None)
    return dict(md) if isinstance(md, dict) else {}


def _topological(nodes: Dict[str, Node]) -> List[str]:
    """Kahn's algorithm, the smallest ready name first; refuses cycles."""
    indeg = {n: len(set(v.preds)) for n, v in nodes.items()}
    ready = [n for n, d in indeg.items() if d == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        n = heapq.heappop(ready)
        order.append(n)
        for s in sorted(set(nodes[n].succs)):
            indeg[s] -= 1
            if indeg[s] == 0:
                heapq.heappush(ready, s)
    if len(order) != len(nodes):
        left = sorted(set(nodes) - set(order))
        cycle = _find_cycle(nodes, left)
        raise Refused(
            "recurrent connection: the graph has a cycle through nodes "
            + " -> ".join(f"'{c}'" for c in cycle)
            + f" (node '{cycle[0]}' feeds back into itself)"
        )
    return order


def _find_cycle(nodes: Dict[str, Node], candidates: List[str]) -> List[str]:
    """One cycle among the nodes Kahn's algorithm could not order."""
    cand = set(candidates)
    done: set = set()

    def dfs(node: str, path: List[str]) -> Optional[List[str]]:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        for s in sorted(set(nodes[node].succs)):
            if s in cand:
                found = dfs(s, path + [node])
                if found:
                    return found
        done.add(node)
        return None

    for start in candidates:
        found = dfs(start, [])
        if found:
            return found
    return candidates


def _param(node: Node, key: str, shape: Tuple[int, ...]) -> np.ndarray:
    """A neuron parameter broadcast (or reshaped, same size) to the node's shape."""
    a = np.asarray(getattr(node.nir, key), dtype=np.float64)
    if a.shape == tuple(shape):
        return a
    if a.size == int(np.prod(shape)):
        return a.reshape(shape)
    try:
        return np.broadcast_to(a, shape).copy()
    except ValueError:
        raise Refused(
            f"node '{node.name}' ({node.kind}): parameter {key} has shape "
            f"{_shape_str(a.shape)} but the node receives {_shape_str(shape)}"
        ) from None


def _declared_shape(node: Node) -> Optional[Tuple[int, ...]]:
    """The neuron/Scale node's own shape as given by its parameters."""
    if node.kind in SPIKING:
        return tuple(np.asarray(node.nir.v_threshold).shape)
    if node.kind in INTEGRATORS:
        return tuple(np.asarray(node.nir.r).shape)
    if node.kind == "Scale":
        return tuple(np.asarray(node.nir.scale).shape)
    return None


def load(path: str) -> Net:
    """Read a NIR file and prepare it for simulation (shapes, order, checks)."""
    graph = nir.read(path, type_check=False)
    return prepare(graph)


def prepare(graph: "nir.NIRGraph") -> Net:
    """Checks a NIR graph against what we support and resolves every shape."""
    nodes: Dict[str, Node] = {}
    for name, n in graph.nodes.items():
        kind = type(n).__name__
        if kind not in NEURONS + SYNAPTIC + ("Input", "Output"):
            what = {
                "Delay": "synaptic delays (Delay)",
                "NIRGraph": "nested subgraphs",
                "Conv1d": "1-d convolutions (Conv1d)",
                "Threshold": "Threshold nodes",
            }.get(kind, f"{kind} nodes")
            raise Refused(f"node '{name}' ({kind}): {what} are not supported")
        nodes[name] = Node(name=name, kind=kind, nir=n, metadata=_metadata(n))
    for a, b in graph.edges:
        a, b = _as_str(a), _as_str(b)
        for x in (a, b):
            if x not in nodes:
                raise Refused(f"edge ({a!r}, {b!r}) names the unknown node '{x}'")
        if a == b:
            raise Refused(f"recurrent connection: node '{a}' feeds itself")
        nodes[a].succs.append(b)
        nodes[b].preds.append(a)
    for n in nodes.values():
        n.preds.sort()
        n.succs.sort()
        if len(set(n.preds)) != len(n.preds):
            raise Refused(f"node '{n.name}' has a duplicate incoming edge")

    inputs = [n for n in nodes.values() if n.kind == "Input"]
    outputs = [n for n in nodes.values() if n.kind == "Output"]
    if len(inputs) != 1:
        raise Refused(f"the graph must have exactly one Input node, it has {len(inputs)}")
    if len(outputs) != 1:
        raise Refused(f"the graph must have exactly one Output node, it has {len(outputs)}")

    order = _topological(nodes)

    # Shapes, in topological order.
    for name in order:
        node = nodes[name]
        _resolve(node, nodes)

    _check_structure(nodes, order, inputs[0].name, outputs[0].name)
    return Net(
        nodes=nodes,
        order=order,
        input=inputs[0].name,
        output=outputs[0].name,
        metadata=_metadata(graph),
    )


def _resolve(node: Node, nodes: Dict[str, Node]) -> None:
    """Infers node's input/output shapes from its predecessors, checks parameters."""
    n, name, kind = node.nir, node.name, node.kind
    if kind == "Input":
        if node.preds:
            raise Refused(f"Input node '{name}' has incoming edges")
        shape = np.asarray(n.input_type["input"]).ravel()
        node.in_shape = node.out_shape = tuple(int(s) for s in shape)
        return
    if not node.preds:
        raise Refused(f"node '{name}' ({kind}) has no incoming edge")
    shapes = {nodes[p].out_shape for p in node.preds}
    sizes = {int(np.prod(s)) for s in shapes}
    if len(sizes) != 1:
        detail = ", ".join(f"'{p}' {_shape_str(nodes[p].out_shape)}" for p in node.preds)
        raise Refused(f"node '{name}' ({kind}) sums inputs of different sizes: {detail}")
    in_shape = sorted(shapes, key=len, reverse=True)[0]
    size = sizes.pop()

    def want(shape: Tuple[int, ...]) -> Tuple[int, ...]:
        """The node expects `shape`: predecessors must have as many elements."""
        if int(np.prod(shape)) != size:
            raise Refused(
                f"node '{name}' ({kind}) expects input {_shape_str(shape)} but receives "
                f"{_shape_str(in_shape)}"
            )
        return tuple(int(s) for s in shape)

    if kind == "Output":
        node.in_shape = node.out_shape = in_shape
        return
    if kind in NEURONS:
        own = _declared_shape(node)
        shape = want(own) if own and int(np.prod(own)) == size and len(own) >= 1 else in_shape
        node.in_shape = node.out_shape = shape
        p = node.params
        if kind in CUBA:
            p["tau_syn"] = _param(node, "tau_syn", shape)
            if np.any(~(p["tau_syn"] > 0)):
                raise Refused(f"node '{name}' ({kind}): tau_syn must be positive")
            w_in = getattr(n, "w_in", None)
            p["w_in"] = np.ones(shape) if w_in is None else _param(node, "w_in", shape)
            if np.any(~(p["w_in"] > 0)):
                raise Refused(f"node '{name}' ({kind}): w_in must be positive")
        if kind in LEAKY:
            p["tau"] = _param(node, "tau_mem" if kind in CUBA else "tau", shape)
            if np.any(~(p["tau"] > 0)):
                raise Refused(f"node '{name}' ({kind}): tau must be positive")
            p["v_leak"] = _param(node, "v_leak", shape)
            if np.any(p["v_leak"] != 0):
                raise Refused(
                    f"node '{name}' ({kind}): v_leak != 0 is not supported "
                    f"(max |v_leak| = {np.abs(p['v_leak']).max():g})"
                )
        p["r"] = _param(node, "r", shape)
        if kind in SPIKING:
            p["v_threshold"] = _param(node, "v_threshold", shape)
            reset = getattr(n, "v_reset", None)
            # Checked against the reset rule in reset_mode (ignored by a subtract reset).
            p["v_reset"] = (
                np.zeros(shape) if reset is None else _param(node, "v_reset", shape)
            )
        for k, v in p.items():
            if not np.all(np.isfinite(v)):
                raise Refused(f"node '{name}' ({kind}): {k} is not finite")
        return

    if kind in ("Affine", "Linear"):
        w = np.asarray(n.weight, dtype=np.float64)
        if w.ndim != 2:
            raise Refused(f"node '{name}' ({kind}): weight must be 2-d, got {_shape_str(w.shape)}")
        if kind == "Affine":
            b = np.asarray(n.bias, dtype=np.float64)
            if np.any(b != 0):
                raise Refused(
                    f"node '{name}' (Affine): a non-zero bias is not supported "
                    f"(max |bias| = {np.abs(b).max():g})"
                )
        node.in_shape = want((w.shape[1],))
        node.out_shape = (w.shape[0],)
        wt = w.T.copy()
        node.op = lambda x, wt=wt: x @ wt
        return
    if kind == "Scale":
        s = np.asarray(n.scale, dtype=np.float64)
        node.in_shape = node.out_shape = want(s.shape) if s.ndim else in_shape
        node.op = lambda x, s=s: x * s
        return
    if kind == "Flatten":
        if len(in_shape) == 0:
            raise Refused(f"node '{name}' (Flatten): scalar input")
        declared = n.input_type.get("input") if isinstance(n.input_type, dict) else None
        src = tuple(int(s) for s in np.asarray(declared).ravel()) if declared is not None else in_shape
        node.in_shape = want(src)
        start, end = int(n.start_dim), int(n.end_dim)
        nd = len(src)
        s0 = start + nd if start < 0 else start
        e0 = end + nd if end < 0 else end
        if not (0 <= s0 <= e0 < nd):
            raise Refused(
                f"node '{name}' (Flatten): start_dim={start}, end_dim={end} do not fit "
                f"input {_shape_str(src)}"
            )
        out = src[:s0] + (int(np.prod(src[s0:e0 + 1])),) + src[e0 + 1:]
        node.out_shape = out
        node.op = lambda x, out=out: x.reshape((x.shape[0],) + out)
        return
    if kind == "Conv2d":
        w = np.asarray(n.weight, dtype=np.float64)
        if w.ndim != 4:
            raise Refused(f"node '{name}' (Conv2d): weight must be 4-d, got {_shape_str(w.shape)}")
        b = np.asarray(n.bias, dtype=np.float64) if n.bias is not None else np.zeros(1)
        if np.any(b != 0):
            raise Refused(
                f"node '{name}' (Conv2d): a non-zero bias is not supported "
                f"(max |bias| = {np.abs(b).max():g})"
            )
        groups = int(np.asarray(n.groups).ravel()[0]) if n.groups is not None else 1
        cout, cin_g, kh, kw = w.shape
        if groups < 1 or cout % groups:
            raise Refused(f"node '{name}' (Conv2d): groups={groups} does not divide {cout} outputs")
        if len(in_shape) == 3:
            _, h, wd = in_shape
        elif n.input_shape is not None:  # e.g. a flat predecessor: use the declared (H, W)
            h, wd = (int(v) for v in np.asarray(n.input_shape).ravel())
        else:
            raise Refused(f"node '{name}' (Conv2d): input {_shape_str(in_shape)} is not (C, H, W)")
        node.in_shape = want((cin_g * groups, h, wd))
        if n.input_shape is not None:
            decl = tuple(int(v) for v in np.asarray(n.input_shape).ravel())
            if decl != (h, wd):
                raise Refused(
                    f"node '{name}' (Conv2d): input_shape {decl} but receives "
                    f"{_shape_str(in_shape)}"
                )
        stride = _pair(n.stride, "stride", name)
        dil = _pair(n.dilation, "dilation", name)
        pad = n.padding
        if isinstance(pad, (bytes, np.bytes_, str)) or (isinstance(pad, np.ndarray) and pad.dtype.kind in "SUO"):
            mode = _as_str(pad)
            if mode == "valid":
                padt = (0, 0, 0, 0)
            elif mode == "same":
                th, tw = dil[0] * (kh - 1), dil[1] * (kw - 1)
                padt = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
            else:
                raise Refused(f"node '{name}' (Conv2d): padding {mode!r}")
        else:
            ph, pw = _pair(pad, "padding", name)
            padt = (ph, ph, pw, pw)
        ho = conv_out_len(h, kh, stride[0], padt[0] + padt[1], dil[0])
        wo = conv_out_len(wd, kw, stride[1], padt[2] + padt[3], dil[1])
        if ho < 1 or wo < 1:
            raise Refused(f"node '{name}' (Conv2d): empty output for input {_shape_str(in_shape)}")
        node.out_shape = (cout, ho, wo)
        node.conv = dict(weight=w, stride=stride, pad=padt, dilation=dil, groups=groups)
        node.op = lambda x, cv=node.conv: conv2d(
            x, cv["weight"], cv["stride"], cv["pad"], cv["dilation"], cv["groups"]
        )
        return
    if kind in ("SumPool2d", "AvgPool2d"):
        if len(in_shape) != 3:
            raise Refused(f"node '{name}' ({kind}): input {_shape_str(in_shape)} is not (C, H, W)")
        node.in_shape = in_shape
        k = _pair(n.kernel_size, "kernel_size", name)
        s = _pair(n.stride, "stride", name)
        p = _pair(n.padding, "padding", name)
        c, h, wd = in_shape
        ho = conv_out_len(h, k[0], s[0], 2 * p[0], 1)
        wo = conv_out_len(wd, k[1], s[1], 2 * p[1], 1)
        if ho < 1 or wo < 1:
            raise Refused(f"node '{name}' ({kind}): empty output for input {_shape_str(in_shape)}")
        node.out_shape = (c, ho, wo)
        # PyTorch's AvgPool2d default count_include_pad=True: always / (kh * kw).
        factor = 1.0 / (k[0] * k[1]) if kind == "AvgPool2d" else 1.0
        node.pool = dict(kernel=k, stride=s, padding=p, factor=factor)
        node.op = lambda x, k=k, s=s, p=p, f=factor: sum_pool2d(x, k, s, p) * f
        return
    raise Refused(f"node '{name}' ({kind}) is not supported")  # pragma: no cover


def _check_structure(nodes: Dict[str, Node], order: List[str], inp: str, out: str) -> None:
    """What the importer needs beyond single nodes."""
    o = nodes[out]
    if o.succs:
        raise Refused(f"Output node '{out}' has outgoing edges")
    if len(o.preds) != 1:
        raise Refused(f"Output node '{out}' must have exactly one incoming edge, it has {len(o.preds)}")
    feeder = nodes[o.preds[0]]
    if feeder.kind not in NEURONS:
        raise Refused(
            f"Output node '{out}' is fed by '{feeder.name}' ({feeder.kind}); it must be fed "
            "by a neuron node (LI/I integrator or a spiking LIF/IF)"
        )
    for name in order:
        n = nodes[name]
        if n.kind in INTEGRATORS and n.succs != [out]:
            raise Refused(
                f"node '{name}' ({n.kind}): an integrator may only feed the Output node"
            )
        if n.kind in SYNAPTIC and not n.succs:
            raise Refused(f"node '{name}' ({n.kind}) has no outgoing edge")
        if n.kind in SYNAPTIC and out in n.succs:
            raise Refused(f"node '{name}' ({n.kind}) feeds the Output node directly")
        if n.kind == "Input" and out in n.succs:
            raise Refused(f"Input node '{name}' feeds the Output node directly")


# --------------------------------------------------------------------------
# Neuron constants.
# --------------------------------------------------------------------------
def decay_and_gain(node: Node, dt: float) -> Tuple[np.ndarray, np.ndarray]:
    """Per-neuron (lam, g) of the forward-Euler step v = lam * v + g * I.

    LIF/LI: lam = 1 - dt/tau, g = dt r / tau; IF/I: lam = 1, g = dt r; CubaLIF/CubaLI:
    as LIF/LI with tau = tau_mem, g times the current's dt w_in / tau_syn.  Like the
    importer, a tau shorter than dt (an overshooting Euler step) is refused.
    """
    p = node.params
    if node.kind in LEAKY:
        if np.any(dt > p["tau"]):
            raise Refused(
                f"node '{node.name}' ({node.kind}): dt = {dt:g} s is longer than tau = "
                f"{p['tau'].min():g} s (the forward-Euler step would overshoot)"
            )
        lam = 1.0 - dt / p["tau"]
        g = dt * p["r"] / p["tau"]
    else:
        lam = np.ones(node.out_shape)
        g = dt * p["r"]
    if node.kind in CUBA:
        g = g * syn_decay_and_gain(node, dt)[1]
    return lam, g


def syn_decay_and_gain(node: Node, dt: float) -> Tuple[np.ndarray, np.ndarray]:
    """Per-neuron (1 - dt/tau_syn, dt w_in / tau_syn) of a current-based node."""
    p = node.params
    if np.any(dt > p["tau_syn"]):
        raise Refused(
            f"node '{node.name}' ({node.kind}): dt = {dt:g} s is longer than tau_syn = "
            f"{p['tau_syn'].min():g} s (the forward-Euler step would overshoot)"
        )
    return 1.0 - dt / p["tau_syn"], dt * p["w_in"] / p["tau_syn"]


def reset_mode(node: Node, reset: Optional[str]) -> str:
    """The reset of a spiking node, as the importer decides it.

    The command line's --reset when given (it applies to every population), else
    the node's snn_reset metadata, else hard (NIR's v_reset).  A hard reset needs
    v_reset = 0.
    """
    if reset is not None:
        mode = reset
    else:
        r = node.metadata.get("snn_reset")
        mode = "subtract" if r is not None and _as_str(r).strip() == "subtract" else "hard"
    if mode == "hard" and np.any(node.params["v_reset"] != 0):
        raise Refused(
            f"node '{node.name}' ({node.kind}): v_reset != 0 is not supported "
            "(a hard reset sets the membrane to 0)"
        )
    return mode


# --------------------------------------------------------------------------
# Float simulation.
# --------------------------------------------------------------------------
def _input_spikes(net: Net, spikes: np.ndarray) -> np.ndarray:
    shape = net.nodes[net.input].out_shape
    spikes = np.asarray(spikes)
    if spikes.ndim < 1:
        raise ValueError("spikes must be an array (T, *input_shape)")
    t = spikes.shape[0]
    if int(np.prod(spikes.shape[1:])) != int(np.prod(shape)):
        raise ValueError(
            f"spikes have shape {_shape_str(spikes.shape)}, the Input is {_shape_str(shape)}"
        )
    if not np.all(np.isin(spikes, (-1, 0, 1))):
        raise ValueError("spikes must be -1, 0 or +1")
    return spikes.reshape((t,) + tuple(shape)).astype(np.int64)


def _result(net: Net, mode: str, dt: float, t: int, counts: Dict[str, np.ndarray],
            output: np.ndarray, output_kind: str) -> dict:
    pops = [
        {
            "node": name,
            "kind": net.nodes[name].kind,
            "shape": list(net.nodes[name].out_shape),
            "counts": [int(c) for c in channel_last(counts[name])],
        }
        for name in net.spiking()
    ]
    out = channel_last(output)
    if output_kind == "LI" or output_kind == "I":
        values = [float(v) for v in out] if mode == "float" else [int(v) for v in out]
    else:
        values = [int(v) for v in out]
    return {
        "mode": mode,
        "dt": dt,
        "timesteps": t,
        "populations": pops,
        "output_kind": output_kind,
        "output": values,
        "class": int(np.argmax(out)) if out.size else -1,
    }


def simulate_float(net: Net, spikes: np.ndarray, dt: float, reset: Optional[str] = None) -> dict:
    """NIR semantics in float64 (forward Euler, step dt)."""
    spikes = _input_spikes(net, spikes)
    nodes = net.nodes
    consts = {}
    for n in net.order:
        node = nodes[n]
        if node.kind in NEURONS:
            leaky = node.kind in LEAKY
            a = dt / node.params["tau"] if leaky else None
            g = decay_and_gain(node, dt)[1]
            if node.kind in CUBA:  # the membrane's own gain; the current's is applied below
                g = g / syn_decay_and_gain(node, dt)[1]
            consts[n] = (a, g, leaky)
    modes = {n: reset_mode(nodes[n], reset) for n in net.order if nodes[n].kind in SPIKING}
    v = {n: np.zeros(nodes[n].out_shape) for n in consts}
    syn = {n: np.zeros(nodes[n].out_shape) for n in consts if nodes[n].kind in CUBA}
    counts = {n: np.zeros(nodes[n].out_shape, dtype=np.int64) for n in modes}
    outs: Dict[str, np.ndarray] = {}
    for t in range(spikes.shape[0]):
        for name in net.order:
            node = nodes[name]
            if node.kind == "Input":
                outs[name] = spikes[t].astype(np.float64)
                continue
            x = sum(outs[p].reshape(node.in_shape) for p in node.preds)
            if node.kind in SYNAPTIC:
                outs[name] = node.op(x[None])[0]
            elif node.kind in NEURONS:
                a, g, leak = consts[name]
                if node.kind in CUBA:  # i + (dt/tau_syn) (-i) + (dt w_in/tau_syn) I
                    decay, gs = syn_decay_and_gain(node, dt)
                    syn[name] = decay * syn[name] + gs * x
                    x = syn[name]
                if leak:  # v + (dt/tau) (v_leak - v) + (dt r/tau) I, with v_leak = 0
                    v[name] = v[name] + a * (0.0 - v[name]) + g * x
                else:  # v + dt r I
                    v[name] = v[name] + g * x
                if node.kind in SPIKING:
                    th = node.params["v_threshold"]
                    z = v[name] > th
                    if modes[name] == "hard":
                        v[name] = np.where(z, 0.0, v[name])
                    else:
                        v[name] = np.where(z, v[name] - th, v[name])
                    counts[name] += z
                    outs[name] = z.astype(np.float64)
                else:
                    outs[name] = v[name]
            else:  # Output
                outs[name] = x
    feeder = nodes[nodes[net.output].preds[0]]
    if feeder.kind in SPIKING:
        return _result(net, "float", dt, spikes.shape[0], counts, counts[feeder.name], "spikes")
    return _result(net, "float", dt, spikes.shape[0], counts, v[feeder.name], feeder.kind)


# --------------------------------------------------------------------------
# Chains of synaptic nodes (fixed-point mode).
#
# The rules follow snn-train's importer (snn-train/src/nir/to_model.rs):
#  * weights: the chain's linear map times the destination's gain, in f32, with
#    one scale per output channel (one for the output integrator),
#    s = max(max|w| / 127, 1e-12), q = clamp(round(w / s), -127, 127);
#  * the exporter's sidecar snn_scale (on the chain's weight node; for a residual
#    block on conv2, shared with the 1x1 shortcut) is used when every effective
#    weight is within 1e-3 of a whole number of it, |round(q)| <= 127; only then
#    is snn_threshold used, else theta = clamp(round(v_th / s), 1, 2^30);
#  * an identity shortcut (a direct edge, or a 1x1 Conv2d with metadata
#    snn_shortcut = "identity") adds round(diag * g / s) per spike (|gain| <= 2^29)
#    and takes no part in the scales;
#  * a pooling followed by neurons is our pooling layer (one unit per input
#    spike, theta = v_th / (unit * g)) when that is exact: 2x2 window, stride 2,
#    no padding, no leak, hard reset, whole thresholds; otherwise it is a
#    convolution with a copy kernel, quantised like any other.
# --------------------------------------------------------------------------
SIDECAR_TOLERANCE = 1e-3


class Chain:
    """The linear map from one source population into one destination neuron node."""

    source: str
    weights: Optional[str] = None  # the chain's Affine/Linear/Conv2d nearest the destination
    identity: bool = False  # an identity shortcut (gains, not in the scales)

    def effective(self, g: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(f32 effective weights, destination row of each) for the scales.

        Rows are C-order neuron indices of the destination; every stored weight
        counts (a conv's whole kernel, as the importer quantises it).
        """
        raise NotImplementedError

    def quantise(self, g: np.ndarray, s_row: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """An int64 operator x (n_src,) -> q @ x with q = clamp(round(w / s), -127, 127)."""
        raise NotImplementedError


def _q(a32: np.ndarray, s32: np.ndarray) -> np.ndarray:
    """weight_from_f32: clamp(round_half_away(a / s), -127, 127), the division in f32."""
    r = round_half_away((a32 / s32).astype(np.float32))
    r = np.nan_to_num(r, nan=0.0, posinf=WEIGHT_LIMIT, neginf=-WEIGHT_LIMIT)
    return np.clip(r, -WEIGHT_LIMIT, WEIGHT_LIMIT).astype(np.int64)


def _uniform_per_channel(g: np.ndarray, c: int, what: str, where: str) -> np.ndarray:
    """One value per channel (axis 0 of a C-order vector split in c channels)."""
    gc = np.asarray(g).reshape(c, -1)
    if np.any(gc != gc[:, :1]):
        raise Refused(f"node '{where}': {what} varies within a channel")
    return gc[:, 0]


class DenseChain(Chain):
    """M as a dense float64 matrix (n_dst, n_src), from unit vectors pushed through."""

    def __init__(self, source: str, weights: Optional[str], m: np.ndarray):
        self.source, self.weights, self.m = source, weights, m

    def _scaled(self, g):
        return (g.ravel()[:, None] * self.m).astype(np.float32)

    def effective(self, g):
        a = self._scaled(g)
        return a, np.repeat(np.arange(a.shape[0]), a.shape[1]).reshape(a.shape)

    def quantise(self, g, s_row):
        q = _q(self._scaled(g), s_row.astype(np.float32)[:, None])
        return lambda x, q=q: q @ x.ravel()


class ConvChain(Chain):
    """A single Conv2d node; the destination's gain must be uniform per channel."""

    def __init__(self, source: str, node: Node, dest: Node):
        self.source, self.weights, self.node, self.dest = source, node.name, node, dest
        self.per_channel = int(np.prod(node.out_shape[1:]))

    def _kernel(self, g):
        w = self.node.conv["weight"]
        gc = _uniform_per_channel(g, w.shape[0], "the gain dt*r/tau", self.dest.name)
        return (gc[:, None, None, None] * w).astype(np.float32)

    def effective(self, g):
        k = self._kernel(g)
        rows = np.broadcast_to((np.arange(k.shape[0]) * self.per_channel)[:, None, None, None], k.shape)
        return k, rows

    def quantise(self, g, s_row):
        s = s_row.reshape(self.node.out_shape[0], -1)[:, 0].astype(np.float32)
        qk = _q(self._kernel(g), s[:, None, None, None])
        cv, shape = self.node.conv, self.node.in_shape

        def apply(x, qk=qk):
            y = conv2d(x.reshape((1,) + shape), qk, cv["stride"], cv["pad"], cv["dilation"], cv["groups"])
            return y.ravel()

        return apply


class ShortcutChain(Chain):
    """An identity shortcut: a direct edge, or a 1x1 Conv2d marked snn_shortcut = identity.

    Channel c of the source feeds channel c of the destination (strided) with a
    float weight diag[c]; one spike adds shortcut_gain(diag[c] * g_c / s_c).
    """

    identity = True

    def __init__(self, source: str, src_shape, dest: Node, diag: np.ndarray, stride=(1, 1),
                 node: Optional[Node] = None):
        self.source, self.dest, self.diag = source, dest, np.asarray(diag, dtype=np.float64)
        self.src_shape, self.stride, self.node = tuple(src_shape), stride, node

    def gains(self, g, s_row) -> np.ndarray:
        c = self.diag.size
        gc = _uniform_per_channel(g, c, "the gain dt*r/tau", self.dest.name)
        sc = s_row.reshape(c, -1)[:, 0].astype(np.float32)
        u = (self.diag * gc).astype(np.float32)
        r = round_half_away((u / sc).astype(np.float32))
        r = np.nan_to_num(r, nan=0.0, posinf=MAX_SHORTCUT_GAIN, neginf=-MAX_SHORTCUT_GAIN)
        return np.clip(r, -MAX_SHORTCUT_GAIN, MAX_SHORTCUT_GAIN).astype(np.int64)

    def quantise(self, g, s_row):
        gains = self.gains(g, s_row)
        sh, sw = self.stride
        shape = self.src_shape

        def apply(x, gains=gains):
            x = x.reshape(shape)
            if len(shape) == 3:
                x = x[:, ::sh, ::sw]
                return (gains[:, None, None] * x).ravel()
            return gains * x

        return apply


class PoolChain(Chain):
    """A single pooling node into neurons (see the section comment)."""

    def __init__(self, source: str, node: Node, dest: Node):
        self.source, self.node, self.dest = source, node, dest
        self.per_channel = int(np.prod(node.out_shape[1:]))

    def unit_times_gain(self, g) -> np.ndarray:
        c = self.node.out_shape[0]
        gc = _uniform_per_channel(g, c, "the gain dt*r/tau", self.dest.name)
        return self.node.pool["factor"] * gc

    def effective(self, g):
        a = self.unit_times_gain(g).astype(np.float32)
        return a, np.arange(a.size) * self.per_channel

    def exact(self, lam: np.ndarray, mode: str, vth_c: np.ndarray, g: np.ndarray):
        """Integer thresholds of our pooling layer when it runs this exactly, else None."""
        p = self.node.pool
        if (p["kernel"], p["stride"], p["padding"]) != ((2, 2), (2, 2), (0, 0)):
            return None
        if np.any(lam != 1.0) or mode != "hard":
            return None
        units = vth_c / self.unit_times_gain(g)
        ok = (units >= 1.0) & (units < MAX_THRESHOLD) & (np.abs(units - np.round(units)) <= 1e-9 * units)
        if not np.all(ok):
            return None
        return round_half_away(units).astype(np.int64)

    def quantise(self, g, s_row, unit_weight: bool = False):
        """The pooled sum times q per channel: q = 1 for our pooling layer, else
        round(unit * g / s) (a copy-kernel convolution, normally 127)."""
        c = self.node.out_shape[0]
        if unit_weight:
            q = np.ones(c, dtype=np.int64)
        else:
            q = _q(self.unit_times_gain(g).astype(np.float32),
                   s_row.reshape(c, -1)[:, 0].astype(np.float32))
        p, shape = self.node.pool, self.node.in_shape

        def apply(x, q=q):
            y = sum_pool2d(x.reshape((1,) + shape), p["kernel"], p["stride"], p["padding"])[0]
            return (q[:, None, None] * y).ravel()

        return apply


def _chains_into(net: Net, dest: str, force_dense: bool = False) -> List[Chain]:
    """The chains (one per source population) that feed neuron node `dest`."""
    nodes = net.nodes
    # Synaptic nodes upstream of dest, and the sources where they start.
    region, sources, stack = set(), set(), list(nodes[dest].preds)
    while stack:
        p = stack.pop()
        kind = nodes[p].kind
        if kind == "Input" or kind in SPIKING:
            sources.add(p)
        elif kind in SYNAPTIC:
            if p not in region:
                region.add(p)
                stack.extend(nodes[p].preds)
        else:
            raise Refused(f"node '{p}' ({kind}) cannot feed '{dest}'")
    chains = []
    for src in sorted(sources, key=net.order.index):
        # The synaptic nodes on a path src -> dest.
        down, stack = set(), [s for s in nodes[src].succs if s in region]
        while stack:
            p = stack.pop()
            if p not in down:
                down.add(p)
                stack.extend(s for s in nodes[p].succs if s in region)
        direct = src in nodes[dest].preds
        chains.append(_make_chain(net, src, dest, down, direct, force_dense))
    return chains


def _make_chain(net: Net, src: str, dest: str, down: set, direct: bool,
                force_dense: bool) -> Chain:
    nodes = net.nodes
    d = nodes[dest]
    n_src, n_dst = nodes[src].size, d.size
    weight_nodes = [n for n in net.order if n in down and nodes[n].kind in ("Affine", "Linear", "Conv2d")]
    weights = weight_nodes[-1] if weight_nodes else None

    # Identity shortcuts.
    if not down and direct:
        if nodes[src].out_shape != d.out_shape:
            raise Refused(f"edge '{src}' -> '{dest}': an identity connection between different shapes")
        c = d.out_shape[0] if len(d.out_shape) == 3 else d.size
        return ShortcutChain(src, nodes[src].out_shape, d, np.ones(c))
    if len(down) == 1 and not direct:
        only = nodes[next(iter(down))]
        marked = _as_str(only.metadata.get("snn_shortcut", "")).strip() == "identity"
        if only.kind == "Conv2d" and marked:
            w = only.conv["weight"]
            if w.shape[2:] != (1, 1) or w.shape[0] != w.shape[1] or only.conv["pad"] != (0, 0, 0, 0):
                raise Refused(f"node '{only.name}': an snn_shortcut = identity node must be a square 1x1 Conv2d without padding")
            diag = np.array([w[c, c, 0, 0] for c in range(w.shape[0])])
            off = w[:, :, 0, 0] - np.diag(diag)
            if np.any(off != 0):
                raise Refused(f"node '{only.name}': an snn_shortcut = identity convolution with off-diagonal weights")
            return ShortcutChain(src, nodes[src].out_shape, d, diag, only.conv["stride"], only)
        if only.preds == [src] and only.out_shape == d.out_shape and len(d.out_shape) == 3:
            if only.kind in ("SumPool2d", "AvgPool2d"):
                return PoolChain(src, only, d)
            if only.kind == "Conv2d" and not force_dense:
                return ConvChain(src, only, d)
    # Dense: push the unit vectors of the source through the chain in float64.
    biggest = max([n_dst] + [nodes[p].size for p in down]) * n_src
    if biggest > DENSE_LIMIT:
        raise Unsupported(
            f"reference.py: the chain '{src}' -> '{dest}' needs a {n_dst}x{n_src} matrix; "
            "only single Conv2d or pooling chains are computed directly"
        )
    memo = {src: np.eye(n_src).reshape((n_src,) + nodes[src].out_shape)}

    def value(name: str) -> Optional[np.ndarray]:
        if name in memo:
            return memo[name]
        node = nodes[name]
        parts = [value(p) for p in node.preds if p == src or p in down]
        parts = [p.reshape((n_src,) + node.in_shape) for p in parts if p is not None]
        memo[name] = node.op(sum(parts)) if parts else None
        return memo[name]

    feeds = [p for p in d.preds if p == src or p in down]
    m = sum(value(p).reshape(n_src, n_dst) for p in feeds)
    return DenseChain(src, weights, np.ascontiguousarray(m.T))


# --------------------------------------------------------------------------
# Fixed-point simulation.
# --------------------------------------------------------------------------
def _channels(node: Node, integrator: bool) -> np.ndarray:
    """Channel index of every neuron (C order) for the per-channel scales."""
    n = node.size
    if integrator:
        return np.zeros(n, dtype=np.int64)
    if len(node.out_shape) == 3:
        c, h, w = node.out_shape
        return np.repeat(np.arange(c), h * w)
    if len(node.out_shape) == 1:
        return np.arange(n)
    raise Unsupported(
        f"reference.py: node '{node.name}' has shape {_shape_str(node.out_shape)}; "
        "channels are defined for (C, H, W) and (N,) populations"
    )


def _per_channel(values: np.ndarray, chan: np.ndarray, what: str, node: Node) -> np.ndarray:
    """One value per channel from a per-neuron array that must be uniform per channel."""
    v = values.ravel()
    nch = int(chan.max()) + 1 if chan.size else 0
    out = np.zeros(nch, dtype=v.dtype)
    out[chan] = v
    if np.any(out[chan] != v):
        raise Refused(f"node '{node.name}' ({node.kind}): {what} varies within a channel")
    return out


def _md_numbers(md: dict, key: str) -> Optional[np.ndarray]:
    """A numeric metadata entry as a flat float64 array, or None."""
    v = md.get(key)
    if v is None:
        return None
    try:
        return np.asarray(v, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return None


def leak_bits(node: Node, lam: np.ndarray, key: str = "snn_leak") -> int:
    """Leak::from_f32(lam) (lam uniform), or the node's `key` metadata (snn_leak, or
    snn_synapse for a synaptic decay) if within 1 of it."""
    if np.any(lam != lam.ravel()[0]):
        raise Refused(f"node '{node.name}' ({node.kind}): tau differs between neurons; a layer has one leak")
    lb = round_half_away(np.float32(lam.ravel()[0]) * np.float32(LEAK_ONE))
    computed = int(np.clip(np.nan_to_num(lb, nan=0.0), 0, LEAK_ONE))
    md = _md_numbers(node.metadata, key)
    if md is not None and md.size >= 1:
        b = md[0]
        if abs(b - computed) <= 1 and 0 <= b <= LEAK_ONE:
            return int(b)
    return computed


def weight_scales(chains: List[Chain], g: np.ndarray, chan: np.ndarray, nch: int,
                  sidecar: Optional[np.ndarray]) -> Tuple[np.ndarray, bool]:
    """Per-channel f32 scales over the chains' effective weights, and whether they
    are the sidecar's (used when every weight is a whole number of it)."""
    eff = [c.effective(g) for c in chains]
    if sidecar is not None and sidecar.size == nch:
        sc = sidecar.astype(np.float32)
        fits = bool(np.all(np.isfinite(sc)) and np.all(sc > 0))
        for a, rows in eff:
            if not fits:
                break
            q = (a / sc[chan[rows]]).astype(np.float32)
            # |q| may come out as 127.00001 in f32 (gain dt*r/tau = 1 +- 1 ulp): the
            # limit is on the rounded weight.
            fits = bool(np.all(np.abs(round_half_away(q)) <= WEIGHT_LIMIT)
                        and np.all(np.abs(q - round_half_away(q)) <= SIDECAR_TOLERANCE))
        if fits:
            return sc, True
    cmax = np.zeros(nch, dtype=np.float32)
    for a, rows in eff:
        np.maximum.at(cmax, chan[rows.ravel()], np.abs(a.ravel()))
    return np.maximum(cmax / np.float32(WEIGHT_LIMIT), MIN_WEIGHT_SCALE).astype(np.float32), False


def thresholds(node: Node, chan: np.ndarray, s: np.ndarray, sidecar_used: bool) -> np.ndarray:
    """Per-channel integer thresholds: snn_threshold when the scales came from the
    sidecar (and it is valid), else threshold_from_f32(v_th / s)."""
    nch = s.size
    if sidecar_used:
        t = _md_numbers(node.metadata, "snn_threshold")
        if t is not None and t.size == nch and np.all((t >= 1) & (t <= MAX_THRESHOLD) & (t == np.floor(t))):
            return t.astype(np.int64)
    vth = _per_channel(node.params["v_threshold"], chan, "v_threshold", node)
    t = round_half_away((vth.astype(np.float32) / s).astype(np.float32))
    t = np.nan_to_num(t, nan=0.0, posinf=MAX_THRESHOLD, neginf=1)
    return np.clip(t, 1, MAX_THRESHOLD).astype(np.int64)


@dataclass
class Layer:
    """A neuron node with its quantised inputs (fixed mode)."""

    name: str
    kind: str
    ops: List[Tuple[str, Callable[[np.ndarray], np.ndarray]]]
    theta: Optional[np.ndarray]  # per neuron (int64), spiking only
    lam_bits: int
    reset: str
    scales: np.ndarray  # per channel f32 (pooling layer: unit * gain)
    how: str  # a note: sidecar / computed / pooling layer
    syn_bits: int = 0  # the synaptic current's decay (current-based nodes; 0: none)


def quantise_net(net: Net, dt: float, reset: Optional[str] = None,
                 force_dense: bool = False) -> List[Layer]:
    """Builds every neuron node's integer layer under the quantisation contract."""
    layers = []
    for name in net.order:
        node = net.nodes[name]
        if node.kind not in NEURONS:
            continue
        integrator = node.kind in INTEGRATORS
        lam, g = decay_and_gain(node, dt)
        g = g.ravel()
        chains = _chains_into(net, name, force_dense)
        chan = _channels(node, integrator)
        nch = int(chan.max()) + 1
        mode = "hard" if integrator else reset_mode(node, reset)
        bits = leak_bits(node, lam)
        syn_bits = (leak_bits(node, syn_decay_and_gain(node, dt)[0], "snn_synapse")
                    if node.kind in CUBA else 0)

        pools = [c for c in chains if isinstance(c, PoolChain)]
        if pools:
            if len(chains) != 1 or integrator:
                raise Refused(f"node '{name}' ({node.kind}): a pooling must feed spiking neurons alone")
            pc = pools[0]
            vth_c = _per_channel(node.params["v_threshold"], chan, "v_threshold", node)
            exact = pc.exact(lam, mode, vth_c, g) if node.kind not in CUBA else None
            if exact is not None:
                ops = [(pc.source, pc.quantise(g, None, unit_weight=True))]
                layers.append(Layer(name, node.kind, ops, exact[chan], LEAK_ONE, "hard",
                                    pc.unit_times_gain(g).astype(np.float32), "pooling layer"))
                continue
            s, _ = weight_scales(chains, g, chan, nch, None)
            ops = [(pc.source, pc.quantise(g, s[chan]))]
            theta = thresholds(node, chan, s, False)[chan]
            layers.append(Layer(name, node.kind, ops, theta, bits, mode, s, "pooling as a convolution",
                                syn_bits))
            continue

        regular = [c for c in chains if not c.identity]
        if not regular:
            raise Refused(f"node '{name}' ({node.kind}): fed without weights")
        # The sidecar sits on the weights of the chain from the latest source (for a
        # residual block: conv2, not the shortcut from the block's input).
        main = max(regular, key=lambda c: net.order.index(c.source))
        sidecar = _md_numbers(net.nodes[main.weights].metadata, "snn_scale") if main.weights else None
        s, used = weight_scales(regular, g, chan, nch, sidecar)
        s_row = s[chan]
        ops = [(c.source, c.quantise(g, s_row)) for c in chains]
        theta = None if integrator else thresholds(node, chan, s, used)[chan]
        layers.append(Layer(name, node.kind, ops, theta, bits, mode, s,
                            "sidecar scales" if used else "computed scales", syn_bits))
    return layers


def simulate_fixed(net: Net, spikes: np.ndarray, dt: float, reset: Optional[str] = None,
                   force_dense: bool = False) -> dict:
    """The integer engine (see module docstring).

    force_dense (a cross-check for tests) materialises single-Conv2d chains as
    dense matrices too; the result differs only when some kernel tap never meets
    a real input (the importer counts the whole kernel in the scales).
    """
    spikes = _input_spikes(net, spikes)
    layers = quantise_net(net, dt, reset, force_dense)
    nodes = net.nodes
    mem = {l.name: np.zeros(nodes[l.name].size, dtype=np.int64) for l in layers}
    syn = {l.name: np.zeros(nodes[l.name].size, dtype=np.int64) for l in layers}
    counts = {l.name: np.zeros(nodes[l.name].size, dtype=np.int64) for l in layers if l.theta is not None}
    for t in range(spikes.shape[0]):
        outs = {net.input: spikes[t].ravel()}
        for l in layers:
            current = np.zeros(nodes[l.name].size, dtype=np.int64)
            for src, op in l.ops:
                current += op(outs[src])
            if l.syn_bits:  # S = clamp(S + I); U = V + S; S = syn(S)
                current = np.clip(syn[l.name] + current, STATE_MIN, STATE_MAX)
                syn[l.name] = leak_apply(current, l.syn_bits)
            u = mem[l.name] + current
            if l.theta is None:  # output integrator
                mem[l.name] = np.clip(leak_apply(u, l.lam_bits), STATE_MIN, STATE_MAX)
                continue
            z = u > l.theta
            if l.reset == "hard":
                v = np.where(z, 0, leak_apply(u, l.lam_bits))
            else:
                v = np.where(z, leak_apply(u - l.theta, l.lam_bits), leak_apply(u, l.lam_bits))
            mem[l.name] = np.clip(v, STATE_MIN, STATE_MAX)
            counts[l.name] += z
            outs[l.name] = z.astype(np.int64)
    shaped = {k: c.reshape(nodes[k].out_shape) for k, c in counts.items()}
    feeder = nodes[nodes[net.output].preds[0]]
    if feeder.kind in SPIKING:
        return _result(net, "fixed", dt, spikes.shape[0], shaped, shaped[feeder.name], "spikes")
    out = mem[feeder.name].reshape(feeder.out_shape)
    return _result(net, "fixed", dt, spikes.shape[0], shaped, out, feeder.kind)


# --------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------
DEFAULT_DT = 1e-4  # the importer's default: snnTorch's assumed time step


def graph_dt(net: Net, dt: Optional[float]) -> Tuple[float, str]:
    """(dt, where it came from), as the importer picks it: --dt, else the graph's
    metadata 'dt' (one number), else 1e-4 s."""
    if dt is not None:
        return float(dt), "--dt"
    md = _md_numbers(net.metadata, "dt")
    if md is not None and md.size == 1:
        return float(md[0]), "graph metadata"
    return DEFAULT_DT, "default"


def summary(result: dict, graph: str) -> str:
    parts = []
    for p in result["populations"]:
        n, c = len(p["counts"]), sum(p["counts"])
        rate = c / max(1, n * result["timesteps"])
        parts.append(f"{p['node']}={c}({100 * rate:.1f}%)")
    return (
        f"{result['mode']} {graph}: T={result['timesteps']} dt={result['dt']:g} "
        f"({result.get('dt_source', '?')}) "
        + " ".join(parts)
        + f" output[{result['output_kind']}] class={result['class']}"
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("graph", help="NIR file")
    ap.add_argument("spikes", help=".npy array (T, *input_shape) of -1/0/+1")
    ap.add_argument("--dt", type=float, default=None,
                    help="time step in seconds (default: the graph's metadata dt, else 1e-4)")
    ap.add_argument("--mode", choices=("float", "fixed"), required=True)
    ap.add_argument("--reset", choices=("hard", "subtract"), default=None,
                    help="reset of every spiking node (default: its snn_reset metadata, else hard)")
    ap.add_argument("--out", default=None, help="write the JSON result here")
    args = ap.parse_args(argv)
    try:
        net = load(args.graph)
        dt, dt_source = graph_dt(net, args.dt)
        spikes = np.load(args.spikes)
        sim = simulate_float if args.mode == "float" else simulate_fixed
        result = sim(net, spikes, dt, args.reset)
        result["dt_source"] = dt_source
    except Refused as e:
        print(f"refused: {args.graph}: {e}", file=sys.stderr)
        return 2
    except Unsupported as e:
        print(f"error: {args.graph}: {e}", file=sys.stderr)
        return 3
    except ValueError as e:
        print(f"error: {args.graph}: {e}", file=sys.stderr)
        return 1
    result = {"graph": args.graph, **result}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f)
            f.write("\n")
    print(summary(result, args.graph))
    return 0


if __name__ == "__main__":
    sys.exit(main())
