"""UTF-8 validation of whole buffers, for readers whose parser passes string bytes through.

pyarrow's JSON parser copies the bytes of a string as they are, so a reader has to check them
before the table is used. Arrow's own validator does about 2 GB/s on Chinese text (three-byte
characters leave its ASCII fast path), which is a fifth of the CPU a JSONL block costs. simdjson's
SIMD validator does the same check about four times faster. It is called through ctypes when the
system has the library (Debian/Ubuntu package libsimdjson-dev, which `scripts/install` installs);
otherwise Arrow's validator is used. The two give the same verdict on every input (tested).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import pyarrow as pa

# simdjson::validate_utf8(const char*, size_t): the library's C++ entry point, by its mangled name.
_SIMDJSON_SYMBOL = "_ZN8simdjson13validate_utf8EPKcm"


@functools.cache
def _simdjson_validator():
    """simdjson's validator, or None where the library is not installed."""
    # The unversioned name first (the -dev package's link): `find_library` runs `ldconfig -p`
    # in a subprocess, which costs more than loading the library.
    for name in ("libsimdjson.so", ctypes.util.find_library("simdjson")):
        if name is None:
            continue
        try:
            function = getattr(ctypes.CDLL(name), _SIMDJSON_SYMBOL)
        except (OSError, AttributeError):
            continue
        function.restype = ctypes.c_bool
        function.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        return function
    return None


def validator() -> str:
    """Which validator `is_valid_utf8` uses here: "simdjson" or "arrow"."""
    return "simdjson" if _simdjson_validator() is not None else "arrow"


def is_valid_utf8(buffer: pa.Buffer) -> bool:
    """Whether all of `buffer` is well-formed UTF-8 (no overlong forms, surrogates or code
    points above U+10FFFF, nothing truncated)."""
    simdjson = _simdjson_validator()
    if simdjson is not None:
        return bool(simdjson(buffer.address, buffer.size))
    offsets = pa.array([0, buffer.size], pa.int64()).buffers()[1]
    try:
        pa.LargeStringArray.from_buffers(1, offsets, buffer).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True
