"""Whole-buffer UTF-8 validation: simdjson's validator and Arrow's give the same verdicts."""

import pyarrow as pa
import pytest

from corpusforge.io import utf8

CASES = {
    b"": True,
    "纯文本，全角标点。".encode(): True,
    "繁體中文與English mixed 😀".encode(): True,
    b"\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf": True,  # range edges
    "字".encode()[:2]: False,  # truncated at the end
    b'{"text": "\xe5\xad"}': False,  # truncated before an ASCII quote
    b"\xe5\xad\xe5\xad\x97": False,  # truncated, then a whole character
    b"\x80abc": False,  # a lone continuation byte
    b"\xc0\xaf": False,  # overlong "/"
    b"\xe0\x80\xaf": False,  # overlong, three bytes
    b"\xed\xa0\x80": False,  # a UTF-16 surrogate
    b"\xf4\x90\x80\x80": False,  # above U+10FFFF
    b"\xff\xfe": False,  # never valid
    "正常".encode() * 10000 + b"\xe5": False,  # a bad byte far from the start
}


@pytest.fixture(params=["simdjson", "arrow"])
def validator(request, monkeypatch):
    if request.param == "arrow":
        monkeypatch.setattr(utf8, "_simdjson_validator", lambda: None)
    elif utf8._simdjson_validator() is None:
        pytest.skip("libsimdjson is not installed here (scripts/install installs it)")
    assert utf8.validator() == request.param
    return request.param


@pytest.mark.parametrize("data", list(CASES), ids=range(len(CASES)))
def test_each_validator_gives_the_verdict_python_gives(validator, data):
    try:
        data.decode("utf-8")
        python_says = True
    except UnicodeDecodeError:
        python_says = False
    assert python_says == CASES[data]
    assert utf8.is_valid_utf8(pa.py_buffer(data)) == CASES[data]


def test_a_slice_of_a_buffer_is_checked_alone(validator):
    # The bad byte lies outside the slice: only the slice's bytes count.
    buffer = pa.py_buffer("好".encode() + b"\xff")
    assert utf8.is_valid_utf8(buffer.slice(0, 3))
    assert not utf8.is_valid_utf8(buffer)
