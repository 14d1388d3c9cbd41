"""DML read() and write() of matrices, scalars and lists, in the files Apache SystemDS 3.x uses.

Pure functions with no interpreter knowledge: `read_value(path, params)` and
`write_value(value, path, params)`, where params are the DML named arguments, already evaluated;
`write_hdf5(path, {name: matrix})` writes a model's weights into one file. Matrices are 2-D
float64 numpy arrays.

What SystemDS does was observed by running SystemDS 3.4.0 (see
tests/runtime/fixtures/io/make_fixtures.dml) and is mirrored by one module per concern:

- `metadata`: the .mtd beside the data and the read() parameters checked against it;
- `numbers`: Java's spellings of doubles ("Infinity", "NaN", "0") and what its parser refuses;
- `files`: a path that is one file or a folder of part files, the atomic data + .mtd write;
- `csv`, `text` (ijv), `hdf5`, `scalar`: one module per format;
- `lists`: a list as a folder of its elements, each written or read as above;
- `readwrite`: `read_value` / `write_value`, the table of formats.

binary (Hadoop sequence files of 1000x1000 blocks), Matrix Market and libsvm are not supported.
Where SystemDS accepts a file but reads something undefined (rows= larger than a csv, which it
zero-pads; rows/cols disagreeing with an HDF5 dataset, which it misreads; a text cell given
twice; a big-endian dataset), we raise an error instead.
"""
from .hdf5 import SYSTEMDS_GROUP_MEMBERS, write_hdf5
from .readwrite import FORMATS, read_value, write_value

__all__ = ["FORMATS", "SYSTEMDS_GROUP_MEMBERS", "read_value", "write_hdf5", "write_value"]
