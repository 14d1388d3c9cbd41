"""write() and read() of a DML list, in SystemDS's layout: a folder named by the file, holding
one file per element named `<position from 0>_<name>` (`null` for an element without a name),
each with its own .mtd, and beside the folder a .mtd with data_type "list", rows = the length.

Matrices are written in the format asked for, scalars as text (as write() does alone), a nested
list as a folder again. SystemDS reads back every element name, "null" included; we read
"null" as no name, so a list written without names reads back without names.
"""
from __future__ import annotations

import os
import re
from typing import Callable

from ..atomic import atomic_folder, write_text
from ..errors import DMLRuntimeError
from ..lists import DMLList
from .metadata import metadata_text, mtd_for_list

_NO_NAME = "null"
_ELEMENT_FILE = re.compile(r"^(\d+)_(.*)\.mtd$")


def write_list(items: DMLList, path: str, params: dict,
               write_element: Callable[[object, str, dict], None]) -> None:
    """Writes the elements into a fresh folder that then replaces whatever path held (an
    earlier matrix file or list folder), and the list's .mtd last."""
    fmt = str(params.get("format", "text")).lower()
    for position, name in enumerate(items.names):
        if name is not None and ("/" in name or name == _NO_NAME or not name):
            raise DMLRuntimeError(f"write({path!r}): list element {position + 1} is named "
                                  f"{name!r}, which cannot name a file in the list's folder")
    try:
        if os.path.isfile(path):
            os.remove(path)
        with atomic_folder(path) as folder:
            for position, (value, name) in enumerate(zip(items, items.names)):
                element = os.path.join(folder, f"{position}_{_NO_NAME if name is None else name}")
                if isinstance(value, DMLList):
                    write_list(value, element, params, write_element)
                else:
                    write_element(value, element, params)
        write_text(path + ".mtd", metadata_text(mtd_for_list(len(items), fmt)))
    except OSError as e:
        raise DMLRuntimeError(f"write({path!r}): {e}") from e


def read_list(path: str, length: int | None,
              read_element: Callable[[str], object]) -> DMLList:
    """The list written at path; length is the list .mtd's rows, which must match its folder."""
    if not os.path.isdir(path):
        raise DMLRuntimeError(f"read({path!r}): the .mtd describes a list, but {path} is not "
                              "a folder of list elements")
    elements: dict[int, tuple[str, str | None]] = {}
    for entry in os.listdir(path):
        match = _ELEMENT_FILE.match(entry)
        if match:
            name = match.group(2)
            elements[int(match.group(1))] = (os.path.join(path, entry[:-len(".mtd")]),
                                             None if name == _NO_NAME else name)
    if length is not None and length != len(elements):
        raise DMLRuntimeError(f"read({path!r}): the .mtd gives a list of {length} elements, "
                              f"but the folder holds {len(elements)}")
    if sorted(elements) != list(range(len(elements))):
        raise DMLRuntimeError(f"read({path!r}): the list's element files are not numbered "
                              f"0 to {len(elements) - 1}")
    ordered = [elements[i] for i in range(len(elements))]
    return DMLList([read_element(file) for file, _ in ordered], [name for _, name in ordered])
