"""Protobuf wire-format helpers for pass-through routing, without decoding the message.

ModelMesh reads the model id at an `idExtractionPath` (field numbers from the outer message inwards) and
overwrites the field at an `idInjectionPath` before forwarding the bytes. Only the fields on the path are
looked at; every other field, known or not, is skipped by its length and copied through byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["WireFormatError", "read_string_field", "replace_string_field"]

_VARINT, _I64, _LEN, _SGROUP, _EGROUP, _I32 = 0, 1, 2, 3, 4, 5
_MAX_FIELD = (1 << 29) - 1

Buffer = bytes | bytearray | memoryview
_Span = tuple[int, int, int]  # (tag start, payload start, payload end) of one length-delimited field


class WireFormatError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def _varint(data: Buffer, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while pos < end:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireFormatError(f"varint longer than 10 bytes at offset {pos}")
    raise WireFormatError(f"truncated varint at offset {pos}")


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _occurrences(data: Buffer, start: int, end: int, field: int) -> list[_Span]:
    """Every length-delimited occurrence of `field` in data[start:end], in order; all fields are skipped."""
    found: list[_Span] = []
    pos = start
    while pos < end:
        tag_start = pos
        key = data[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = _varint(data, pos, end)
        wire_type = key & 7
        if key >> 3 == 0:
            raise WireFormatError(f"field number 0 at offset {tag_start}")
        if wire_type == _LEN:
            length = data[pos] if pos < end else 0x80
            if length < 0x80:
                pos += 1
            else:
                length, pos = _varint(data, pos, end)
            payload = pos
            pos += length
            if pos > end:
                raise WireFormatError(f"length-delimited field at offset {tag_start} runs past its message")
            if key >> 3 == field:
                found.append((tag_start, payload, pos))
        elif wire_type == _VARINT:
            _, pos = _varint(data, pos, end)
        elif wire_type == _I64:
            pos += 8
        elif wire_type == _I32:
            pos += 4
        elif wire_type in (_SGROUP, _EGROUP):
            raise WireFormatError(f"group wire type at offset {tag_start} is not supported")
        else:
            raise WireFormatError(f"invalid wire type {wire_type} at offset {tag_start}")
        if pos > end:
            raise WireFormatError(f"fixed-width field at offset {tag_start} runs past its message")
    return found


def _check_path(path: Sequence[int]) -> None:
    if not path:
        raise ValueError("empty field path")
    for number in path:
        if not 1 <= number <= _MAX_FIELD:
            raise ValueError(f"invalid field number {number} in path {list(path)}")


def read_string_field(data: Buffer, path: Sequence[int]) -> str | None:
    """The string at `path`, or None when absent.

    Repeated occurrences merge as protobuf parsing does: for every message on the path all occurrences
    are searched, and the last occurrence of the string in document order wins.
    """
    _check_path(path)
    spans = [(0, len(data))]
    for field in path:
        spans = [(p, q) for s, e in spans for _, p, q in _occurrences(data, s, e, field)]
        if not spans:
            return None
    start, end = spans[-1]
    try:
        return str(data[start:end], "utf-8")
    except UnicodeDecodeError as exc:
        raise WireFormatError(f"string field at path {list(path)} is not valid UTF-8") from exc


def _len_field(field: int, payload: Buffer) -> bytes:
    return _encode_varint(field << 3 | _LEN) + _encode_varint(len(payload)) + payload


def _rewrite(data: memoryview, start: int, end: int, path: Sequence[int],
             value: bytes | None) -> list[Buffer] | None:
    """Chunks of data[start:end] with the field at `path` set to `value` (None: removed).

    None when nothing changes. The new field goes where the first occurrence was, or first when absent.
    """
    field, rest = path[0], path[1:]
    spans = _occurrences(data, start, end, field)
    if not spans:
        if value is None:
            return None
        inner = value if not rest else b"".join(_rewrite(memoryview(b""), 0, 0, rest, value) or ())
        return [_len_field(field, inner), data[start:end]]
    chunks: list[Buffer] = []
    pos = start
    for index, (tag_start, payload, payload_end) in enumerate(spans):
        own = value if index == 0 else None
        if rest:
            inner_chunks = _rewrite(data, payload, payload_end, rest, own)
            if inner_chunks is None:
                continue
            replacement: bytes | None = _len_field(field, b"".join(inner_chunks))
        else:
            replacement = None if own is None else _len_field(field, own)
        chunks.append(data[pos:tag_start])
        if replacement is not None:
            chunks.append(replacement)
        pos = payload_end
    if not chunks:
        return None
    chunks.append(data[pos:end])
    return chunks


def replace_string_field(data: Buffer, path: Sequence[int], value: str) -> bytes:
    """`data` with the string at `path` set to `value`; every other byte is kept as it was.

    All occurrences of the field are removed and one is written where the first was (first in its
    message when absent); intermediate messages are re-encoded with new lengths, or created.
    """
    _check_path(path)
    view = memoryview(data)
    chunks = _rewrite(view, 0, len(view), path, value.encode("utf-8"))
    return bytes(data) if chunks is None else b"".join(chunks)
