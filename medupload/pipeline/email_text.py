"""A forwarded e-mail's transfer marks undone, with the text's length unchanged.

One reason to change: how a raw e-mail (.eml saved or pasted as text) is made plain before
anything is read. A body declared ``Content-Transfer-Encoding: quoted-printable`` has its escapes
decoded (``=3D`` is "=", ``=E2=80=93`` an en dash) and its soft line breaks (``=`` at a line's end)
joined, so "48-=" / "72 h" reads "48-72 h" and "(65=E2=80=9399)" reads "(65–99)". A logical line
decodes shorter than it was printed: it is written from its start and padded with spaces at its
end, and every literal run's place in the input is recorded (``Moves``, as ``lab_markup``), so a
fact's span maps back to the printed text. In an e-mail, the reply quote marks at a line's start
("> Glucose ....") are blanked, so a row starts with its name; a ">" before a number is a
comparator and stays.
"""

from __future__ import annotations

import re

__all__ = ["plain_email"]

Moves = list[tuple[int, int, int]]  # (start, end) in the plain text, and where it started in the input

_QP_HEADER = re.compile(
    r"^content-transfer-encoding:[ \t]*quoted-printable[ \t]*$", re.IGNORECASE | re.MULTILINE
)
_CHARSET = re.compile(r"charset=\"?([\w-]+)", re.IGNORECASE)
_ESCAPE = re.compile(r"=([0-9A-F]{2})|=[ \t]*\n")
_EMAIL_HEADER = re.compile(r"^(?:from|to|subject|sent|date|cc):[ \t]", re.IGNORECASE | re.MULTILINE)
_FORWARDED = re.compile(r"-{2,}[ \t]*(?:original|forwarded)[ \t]+message[ \t]*-{2,}", re.IGNORECASE)
# Reply quote marks before a word or an empty line, never before a number (">90" is a comparator).
_QUOTE_MARKS = re.compile(r"^(?:>[ \t]?)+(?=[A-Za-z\n]|$)", re.MULTILINE)


def _decoded_part(text: str, start: int, charset: str, moves: Moves) -> str:
    """``text[start:]`` decoded, each logical line padded to the span it was printed in."""
    out: list[str] = []
    at = start
    while at < len(text):
        # A logical line: up to a newline that no "=" before it makes a soft break.
        newline = text.find("\n", at)
        while newline != -1 and newline > at and text[newline - 1] == "=":
            newline = text.find("\n", newline + 1)
        if newline == -1:
            newline = len(text)
        out.append(_decoded_line(text, at, newline, charset, len("".join(out)) + start, moves))
        if newline < len(text):
            out.append("\n")
        at = newline + 1
    return "".join(out)


def _decoded_line(text: str, start: int, end: int, charset: str, placed_at: int, moves: Moves) -> str:
    """One logical line ``text[start:end]`` decoded and padded to its length; runs placed in ``moves``."""
    pieces: list[str] = []
    pending = bytearray()
    pending_at = start
    length = 0
    position = start

    def flush() -> None:
        nonlocal length
        if pending:
            char = bytes(pending).decode(charset, errors="replace")
            moves.append((placed_at + length, placed_at + length + len(char), pending_at))
            pieces.append(char)
            length += len(char)
            pending.clear()

    for escape in _ESCAPE.finditer(text, start, end):
        if escape.start() > position:
            flush()
            literal = text[position : escape.start()]
            moves.append((placed_at + length, placed_at + length + len(literal), position))
            pieces.append(literal)
            length += len(literal)
        if escape.group(1) is not None:
            if not pending:
                pending_at = escape.start()
            pending.append(int(escape.group(1), 16))
        else:
            flush()  # a soft line break: nothing
        position = escape.end()
    flush()
    if position < end:
        literal = text[position:end]
        moves.append((placed_at + length, placed_at + length + len(literal), position))
        pieces.append(literal)
        length += len(literal)
    line = "".join(pieces)
    return line + " " * ((end - start) - len(line))


def plain_email(text: str) -> tuple[str, Moves]:
    """``text`` with a quoted-printable body decoded and reply quote marks blanked (an e-mail's
    only), the same length; and where each moved run was in ``text``."""
    moves: Moves = []
    if len(_EMAIL_HEADER.findall(text)) < 2 and _FORWARDED.search(text) is None:
        return text, moves
    header = _QP_HEADER.search(text)
    if header is not None and header.end() < len(text):
        charset = _CHARSET.search(text, 0, header.start())
        name = charset.group(1) if charset is not None else "utf-8"
        try:
            "".encode(name)
        except LookupError:
            name = "utf-8"
        body = _decoded_part(text, header.end() + 1, name, moves)
        text = text[: header.end() + 1] + body
    text = _QUOTE_MARKS.sub(lambda m: " " * len(m.group()), text)
    return text, moves
