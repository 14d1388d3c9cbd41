"""The weights in DML layout, and weights.h5: one 2-D float64 dataset per DML parameter, which
both this project's runtime and SystemDS read with read(path, format="hdf5", dataset=...).

SystemDS 3.4's HDF5 reader follows a group's symbol table only while the group's B-tree is one
node deep: it takes every child of the root node for a leaf (SNOD), and fails on a file whose
group has more members ("Group symbol table Node signature not matched"). A root node holds 32
leaves of at least 4 members each, so a group of up to 128 members is always one node deep.
Big models' datasets therefore go into groups of GROUP_SIZE (dataset="part2/conv2d_70_W"),
groups of groups beyond GROUP_SIZE groups; models with at most GROUP_SIZE parameters keep one
flat list."""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import ir
from ..passes import layout
from ..ops.reshaping import needs_reorder


def dml_weights(graph: ir.Graph, params: dict) -> dict:
    """{variable: 2-D float64 array in DML layout} in node order.

    A Dense after a Flatten whose rows the script reorders into Keras' order reads its kernel
    unpermuted; every other conversion is `passes.layout`'s."""
    values = layout.dml_parameters(graph)
    for node in graph.nodes:
        if node.op == "flatten" and needs_reorder(graph, node):
            for dense in _denses_after(graph, node.output):
                values[(dense.name, "kernel")] = np.ascontiguousarray(
                    dense.param("kernel").value, dtype=np.float64)
    return {params[key]: values[key] for key in params}


def _index_layout(graph: ir.Graph, params: dict) -> dict:
    """{variable: the DML layout of its Keras array's flat indices}: every conversion only
    moves values, so this says where each Keras value lands."""
    index_graph = graph.with_nodes(
        node.replace(params=tuple(dataclasses.replace(p, value=np.arange(
            p.value.size, dtype=np.float64).reshape(p.shape)) for p in node.params))
        for node in graph.nodes)
    return {variable: index.astype(np.int64)
            for variable, index in dml_weights(index_graph, params).items()}


def keras_layout(graph: ir.Graph, params: dict, weights: dict) -> dict:
    """The inverse of dml_weights: {variable: array in the shape Keras stores it} for DML-layout
    `weights` (e.g. trained ones), scattered back by the indices' layout."""
    indices = _index_layout(graph, params)
    shapes = {params[(n.name, p.name)]: p.shape for n, p in graph.params()}
    out = {}
    for variable, value in weights.items():
        flat = np.empty(int(np.prod(shapes[variable])))
        flat[indices[variable].ravel()] = np.asarray(value, np.float64).ravel()
        out[variable] = flat.reshape(shapes[variable])
    return out


def norm_groups(graph: ir.Graph, params: dict) -> dict:
    """{variable: how its DML layout groups the values a norm constraint (MaxNorm, UnitNorm,
    MinMaxNorm) takes together: "all", "columns" or "rows", None where no whole rows or columns
    hold the groups} for the parameters with such a constraint. A group is the values that share
    their indices on the axes Keras keeps (all but the constraint's axis)."""
    wanted = {params[(n.name, p.name)]: p for n, p in graph.params()
              if p.constraint and p.constraint[0] != "non_neg"}
    if not wanted:
        return {}
    indices = _index_layout(graph, {key: v for key, v in params.items() if v in wanted})
    return {variable: _grouping(indices[variable], p.shape, p.constraint[-1])
            for variable, p in wanted.items()}


def _grouping(index: np.ndarray, shape: tuple, axis) -> str | None:
    axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    kept = [a for a in range(len(shape)) if a not in axes]
    if not kept:
        return "all"
    group = np.ravel_multi_index(tuple(np.unravel_index(index, shape)[a] for a in kept),
                                 tuple(shape[a] for a in kept))
    for form, lines in (("columns", group.T), ("rows", group)):
        if all((line == line[0]).all() for line in lines) and \
                len({int(line[0]) for line in lines}) == len(lines):
            return form
    return None


def _denses_after(graph: ir.Graph, tensor: str):
    for user in graph.consumers(tensor):
        if user.op == "dense":
            yield user
        elif user.op in ("activation", "dropout"):
            yield from _denses_after(graph, user.output)


GROUP_SIZE = 64


def dataset_paths(variables) -> dict[str, str]:
    """{variable: its dataset's path in weights.h5}, in groups of at most GROUP_SIZE members."""
    variables = list(variables)
    if len(variables) <= GROUP_SIZE:
        return {variable: variable for variable in variables}
    groups = [variables[k:k + GROUP_SIZE] for k in range(0, len(variables), GROUP_SIZE)]
    names = [f"part{k}" for k in range(1, len(groups) + 1)]
    outer = dataset_paths(names)
    return {variable: f"{outer[name]}/{variable}" for name, group in zip(names, groups)
            for variable in group}


def write_weights(path: str, weights: dict) -> None:
    """weights.h5 with each variable's array at its dataset_paths path."""
    from kerasdml.runtime.io import write_hdf5
    paths = dataset_paths(weights)
    write_hdf5(path, {paths[variable]: value for variable, value in weights.items()})
