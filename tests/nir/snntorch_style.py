"""Rewrite a NIR file the way snnTorch's exporter writes graphs.

    python snntorch_style.py IN.nir OUT.nir

Keeps the weights and the network, and writes it as `snntorch.export_nir` does:
`Affine` with zero biases instead of `Linear`, `LIF` parameters from `beta` (`tau = dt / (1 - beta)`, `r = tau / dt`) as
one-value arrays for convolution layers (their shape is unknown to the exporter),
time constants for snnTorch's dt = 1e-4 (converted from the source graph's `dt`
metadata when it has one), no `dt` and no metadata (so no quantisation sidecar). Used by the README's worked
example and by snn-train/tests/nir.rs: the importer must broadcast the parameters, assume snnTorch's dt = 1e-4 and quantise anew.
"""

import sys

import numpy as np

import nir

DT = 1e-4  # what snnTorch's exporter assumes


def rewrite(node, dt):
    """The snnTorch-style equivalent of one node (no metadata); `dt` is the time step
    the source graph was written for."""
    if isinstance(node, nir.Input):
        return nir.Input(input_type={"input": np.array(node.input_type["input"])})
    if isinstance(node, nir.Output):
        return nir.Output(output_type={"output": np.array(node.output_type["output"])})
    if isinstance(node, nir.Conv2d):
        return nir.Conv2d(
            input_shape=node.input_shape,
            weight=node.weight.astype(np.float32),
            stride=node.stride,
            padding=node.padding,
            dilation=node.dilation,
            groups=node.groups,
            bias=np.zeros(node.weight.shape[0], dtype=np.float32),
        )
    if isinstance(node, (nir.Linear, nir.Affine)):
        return nir.Affine(
            weight=node.weight.astype(np.float32),
            bias=np.zeros(node.weight.shape[0], dtype=np.float32),
        )
    if isinstance(node, nir.Flatten):
        return nir.Flatten(input_type=node.input_type, start_dim=0, end_dim=-1)
    if isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
        return type(node)(
            kernel_size=np.array(node.kernel_size),
            stride=np.array(node.stride),
            padding=np.array(node.padding),
        )

    def param(a):
        # snnTorch knows the size of dense layers only.
        a = np.asarray(a, dtype=np.float32)
        return a if a.ndim == 1 else np.array([a.flat[0]], dtype=np.float32)

    if isinstance(node, nir.LIF):
        beta = 1.0 - dt / node.tau
        tau = DT / (1.0 - beta)
        return nir.LIF(
            tau=param(tau),
            r=param(tau / DT),
            v_leak=param(np.zeros_like(node.tau)),
            v_threshold=param(node.v_threshold),
        )
    if isinstance(node, nir.IF):
        return nir.IF(r=param(node.r * dt / DT), v_threshold=param(node.v_threshold))
    if isinstance(node, nir.LI):
        beta = 1.0 - dt / node.tau
        tau = DT / (1.0 - beta)
        return nir.LI(tau=param(tau), r=param(tau / DT), v_leak=param(node.v_leak))
    if isinstance(node, nir.I):
        return nir.I(r=param(node.r * dt / DT))
    raise SystemExit(f"node kind {type(node).__name__} is not rewritten")


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    graph = nir.read(sys.argv[1])
    dt = float(np.ravel(graph.metadata.get("dt", DT))[0])
    nodes = {name: rewrite(n, dt) for name, n in graph.nodes.items()}
    out = nir.NIRGraph(nodes=nodes, edges=list(graph.edges), type_check=False)
    nir.write(sys.argv[2], out)
    print(f"wrote {sys.argv[2]} ({len(nodes)} nodes, snnTorch style)")


if __name__ == "__main__":
    main()
