"""IDX files, the format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, a
type code, the number of dimensions, each dimension as a 32-bit count), then the values in C
order. Read from and written to gzip, as they are published."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from pipeline.core.errors import DataError

_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {dtype.newbyteorder(">") if dtype.itemsize > 1 else dtype: code
          for code, dtype in _TYPES.items()}


def read_idx(path: Path) -> np.ndarray:
    """The array in the gzipped IDX file ``path``; a DataError names what is wrong."""
    try:
        with gzip.open(path, "rb") as stream:
            data = stream.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: not a readable gzip file ({error})") from error
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _TYPES:
        raise DataError(f"{path}: not an IDX file (header {data[:4].hex() or 'empty'})")
    dtype, ndim = _TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: the header is cut short ({len(data)} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise DataError(f"{path}: {len(data)} bytes, but a {dtype} array of shape {shape} "
                        f"takes {expected}")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: Path, array: np.ndarray) -> None:
    """``array`` as a gzipped IDX file (synthetic data in the published format)."""
    dtype = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if dtype not in _CODES:
        raise ValueError(f"IDX has no type code for {array.dtype}")
    header = bytes([0, 0, _CODES[dtype], array.ndim]) + struct.pack(f">{array.ndim}I",
                                                                      *array.shape)
    with gzip.GzipFile(path, "wb", mtime=0) as stream:
        stream.write(header + np.ascontiguousarray(array, dtype).tobytes())
