"""Shape checks on the nodes the handlers made, continuing past every failure, so that one error
can report all of a model's problems: a node whose input is missing (its layer was refused) or
whose producer failed is skipped, every other node's shape rule runs."""
from __future__ import annotations

from ..errors import InvalidModelError, Unsupported, UnsupportedAttributeError
from ..opdef import definition


def shape_problems(nodes: list) -> tuple:
    """(attribute problems, InvalidModelErrors) of the shape rules, in node order."""
    shapes, problems, invalid = {}, [], []
    for node in nodes:
        if node.op == "input":
            shapes[node.output] = node.shapes[0]
            continue
        if not all(t in shapes for t in node.inputs):
            continue
        try:
            _, shape = definition(node.op).shape(node, node.attrs,
                                                 tuple(shapes[t] for t in node.inputs))
        except InvalidModelError as error:
            invalid.append(error)
        except UnsupportedAttributeError as error:
            problems += error.problems
        except Unsupported as unsupported:
            problems.append(unsupported.problem(node))
        else:
            shapes[node.output] = shape
    return problems, invalid
