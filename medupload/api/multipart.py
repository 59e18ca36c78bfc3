"""Streams the uploaded file out of a ``multipart/form-data`` body as it arrives.

Starlette's ``request.form()`` reads the whole part before the route sees it; this hands each
network chunk on at once, so the upload limit cuts an oversized body off early.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from medupload.api.errors import ApiError

FILE_FIELD = "file"


class MultipartFileStream:
    """Streams the ``file`` part out of a multipart body as it arrives: nothing is buffered beyond
    one network chunk, so the size limit cuts an oversized upload off early."""

    def __init__(self, content_type: str) -> None:
        ctype, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary:
            raise ApiError(422, "request.invalid", {"fields": ["body.file"]})
        self.filename: str | None = None
        self.found = False
        self._in_file = False
        self._done = False
        self._out: list[bytes] = []
        self._field = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}
        self._parser = MultipartParser(boundary, callbacks={
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        })

    def _part_begin(self) -> None:
        self._headers, self._field, self._value = {}, b"", b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("latin-1")
        # The first part named "file" carrying a filename is the upload; others are ignored.
        if name == FILE_FIELD and b"filename" in params and not self.found and not self._done:
            self.found = self._in_file = True
            self.filename = params[b"filename"].decode("utf-8", "replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._out.append(bytes(data[start:end]))

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file, self._done = False, True

    async def chunks(self, request: Request) -> AsyncIterator[bytes]:
        try:
            async for chunk in request.stream():
                self._parser.write(chunk)
                if self._out:
                    data, self._out = b"".join(self._out), []
                    yield data
            self._parser.finalize()
        except ValueError as exc:  # python-multipart's MultipartParseError is a ValueError
            raise ApiError(422, "request.invalid", {"fields": ["body.file"]}) from exc
        if self._out:
            data, self._out = b"".join(self._out), []
            yield data
        if not self.found:
            # No file part at all: a malformed request, not an upload (the partial file is discarded).
            raise ApiError(422, "request.invalid", {"fields": ["body.file"]})
