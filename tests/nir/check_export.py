#!/usr/bin/env python3
"""Checks a NIR file written by our exporter against an expectation.

Usage::

    python check_export.py FILE.nir EXPECT.json

The file is read with ``nir.read`` (with nir's default type check, so the
input/output types of every edge must agree).  EXPECT.json::

    {
      "nodes": {
        "l0_conv": {"type": "Conv2d",
                    "shapes": {"weight": [20, 1, 5, 5], "output_type": [20, 28, 28]},
                    "values": {"stride": [1, 1], "padding": 2}},
        "l0_lif": {"type": "LIF", "values": {"v_threshold": 1.0, "v_leak": 0.0,
                                              "metadata.snn_reset": "hard"}},
        ...
      },
      "edges": [["input", "l0_conv"], ["l0_conv", "l0_lif"], ...],
      "metadata": {"dt": 0.001},          (optional: the graph's metadata)
      "exact_nodes": true                 (optional: no nodes beyond those listed)
    }

Keys of "shapes" and "values" name a field of the node (``weight``,
``v_threshold``, ``stride``, ...), ``input_type`` / ``output_type`` (the node's
NIR types) or ``metadata.KEY`` (an entry of the node's metadata).  Shapes are
compared exactly; numbers with a relative tolerance of 1e-6 (an expected 0 must
be exactly 0), broadcast against the stored array (so ``"v_threshold": 1.0``
means every neuron's threshold is 1.0); strings exactly.  "edges", when given,
must be exactly the file's set of edges.

Every mismatch is printed; the exit status is 1 if there was any, else the
script prints ``ok N nodes`` (N = nodes in the file) and exits with 0.
"""

from __future__ import annotations

import json
import sys
from typing import Any, List

import h5py
import numpy as np

import nir

RTOL = 1e-6
_MISSING = object()


def _as_str(v) -> str:
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf8")
    if isinstance(v, np.ndarray) and v.shape == () and v.dtype.kind in "SUO":
        return _as_str(v[()])
    return str(v)


def _is_text(v) -> bool:
    return isinstance(v, (str, bytes, np.bytes_)) or (
        isinstance(v, np.ndarray) and v.dtype.kind in "SU"
    )


def field(node, key: str) -> Any:
    """The value a key of EXPECT.json names on a node, or _MISSING."""
    if key == "input_type":
        t = node.input_type
        return None if t is None else t.get("input")
    if key == "output_type":
        t = node.output_type
        return None if t is None else t.get("output")
    if key.startswith("metadata."):
        md = getattr(node, "metadata", None) or {}
        return md.get(key[len("metadata."):], _MISSING)
    return getattr(node, key, _MISSING)


def compare_value(where: str, actual: Any, expected: Any) -> List[str]:
    """Mismatches between a stored value and an expected number/list/string."""
    if isinstance(expected, str):
        if not _is_text(actual) or _as_str(actual) != expected:
            return [f"{where}: expected {expected!r}, found {actual!r}"]
        return []
    if isinstance(expected, bool):
        expected = int(expected)
    if _is_text(actual):
        return [f"{where}: expected {expected!r}, found the string {_as_str(actual)!r}"]
    try:
        a = np.asarray(actual, dtype=np.float64)
        e = np.asarray(expected, dtype=np.float64)
    except (TypeError, ValueError):
        return [f"{where}: expected {expected!r}, found {actual!r}"]
    try:
        a_b, e_b = np.broadcast_arrays(a, e)
    except ValueError:
        return [
            f"{where}: expected a value of shape {list(e.shape)}, found shape {list(a.shape)}"
        ]
    if e_b.shape != a.shape:
        return [
            f"{where}: expected shape {list(e.shape)} does not broadcast to the stored "
            f"shape {list(a.shape)}"
        ]
    bad = ~(np.abs(a_b - e_b) <= RTOL * np.abs(e_b))
    if np.any(bad):
        idx = np.argwhere(bad)
        first = tuple(int(i) for i in idx[0]) if a_b.ndim else ()
        return [
            f"{where}: {int(bad.sum())} of {a_b.size} values differ (rtol {RTOL:g}); "
            f"first at index {list(first)}: expected {float(e_b[first]):.9g}, found {float(a_b[first]):.9g}"
        ]
    return []


def compare_shape(where: str, actual: Any, expected: Any) -> List[str]:
    """For input_type/output_type the value is itself a shape; else its array shape."""
    exp = [int(v) for v in np.asarray(expected).ravel()]
    if where.endswith("input_type") or where.endswith("output_type"):
        if actual is None:
            return [f"{where}: expected {exp}, the type is undefined"]
        got = [int(v) for v in np.asarray(actual).ravel()]
    else:
        got = list(np.shape(actual))
    if got != exp:
        return [f"{where}: expected shape {exp}, found {got}"]
    return []


def raw_node_names(path: str) -> List[str]:
    """The node names as stored in the file (before nir adds any)."""
    with h5py.File(path, "r") as f:
        return sorted(f["node"]["nodes"].keys())


def check(path: str, expect: dict) -> List[str]:
    errors: List[str] = []
    try:
        graph = nir.read(path)
    except Exception as e:  # noqa: BLE001 - report whatever nir raised
        return [f"nir.read failed: {type(e).__name__}: {e}"]

    stored = raw_node_names(path)
    added = sorted(set(graph.nodes) - set(stored))
    if added:
        errors.append(
            f"nir.read added nodes {added}: the graph has a root or a leaf that is not "
            "an Input/Output node"
        )

    exp_nodes = expect.get("nodes", {})
    for name, spec in exp_nodes.items():
        node = graph.nodes.get(name)
        if node is None:
            errors.append(f"node '{name}': missing (the file has {sorted(graph.nodes)})")
            continue
        kind = type(node).__name__
        if "type" in spec and spec["type"] != kind:
            errors.append(f"node '{name}': expected type {spec['type']}, found {kind}")
            continue
        for key, exp in spec.get("shapes", {}).items():
            act = field(node, key)
            if act is _MISSING:
                errors.append(f"node '{name}' ({kind}): no field '{key}'")
                continue
            errors += compare_shape(f"node '{name}' ({kind}) {key}", act, exp)
        for key, exp in spec.get("values", {}).items():
            act = field(node, key)
            if act is _MISSING:
                errors.append(f"node '{name}' ({kind}): no field '{key}'")
                continue
            errors += compare_value(f"node '{name}' ({kind}) {key}", act, exp)
    if expect.get("exact_nodes"):
        extra = sorted(set(graph.nodes) - set(exp_nodes))
        if extra:
            errors.append(f"nodes not in the expectation: {extra}")

    if "edges" in expect:
        want = {(a, b) for a, b in expect["edges"]}
        have = {(_as_str(a), _as_str(b)) for a, b in graph.edges}
        for e in sorted(want - have):
            errors.append(f"edge {list(e)}: missing")
        for e in sorted(have - want):
            errors.append(f"edge {list(e)}: not expected")

    md = getattr(graph, "metadata", None) or {}
    for key, exp in expect.get("metadata", {}).items():
        if key not in md:
            errors.append(f"graph metadata: no '{key}' (has {sorted(md)})")
        else:
            errors += compare_value(f"graph metadata '{key}'", md[key], exp)
    return errors


def main(argv: List[str]) -> int:
    if len(argv) != 3:
        print("usage: check_export.py FILE.nir EXPECT.json", file=sys.stderr)
        return 2
    with open(argv[2]) as f:
        expect = json.load(f)
    errors = check(argv[1], expect)
    if errors:
        for e in errors:
            print(f"{argv[1]}: {e}", file=sys.stderr)
        print(f"FAILED: {len(errors)} mismatch(es)", file=sys.stderr)
        return 1
    print(f"ok {len(raw_node_names(argv[1]))} nodes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
