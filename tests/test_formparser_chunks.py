"""Multipart part data reaches the decoder a chunk at a time, not in slices (session 38)."""

from __future__ import annotations

import pytest
from tests.test_formparser import _close_parsed_files  # noqa: F401 (autouse)
from tests.test_formparser import BOUNDARY
from tests.test_formparser import encode
from tests.test_formparser import parse
from tests.test_formparser import part
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import MultipartDecoder


async def test_a_file_chunk_goes_to_the_decoder_in_one_piece_not_in_slices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Slices of max_part_header_size made a 512 MiB upload 2x slower than Quart's:
    # every 8 KiB cost a decoder call, a copy and a look at the buffer's tail.
    fed: list[int] = []
    receive_data = MultipartDecoder.receive_data

    def counted(self: MultipartDecoder, data: bytes | None) -> None:
        fed.append(len(data or b""))
        receive_data(self, data)

    monkeypatch.setattr(MultipartDecoder, "receive_data", counted)
    payload = bytes(range(256)) * 4096  # 1 MiB, with line breaks in it
    body = encode([part("f", payload, filename="f.bin"), part("a", b"v")])
    chunk = 256 * 1024
    form, files = await parse([body[i : i + chunk] for i in range(0, len(body), chunk)])
    assert files["f"].read() == payload and form["a"] == "v"
    assert len(fed) < 40, len(fed)  # 4 chunks; in slices of 8 KiB: 129


@pytest.mark.parametrize("cut", range(1, len(BOUNDARY) + 4))
async def test_an_oversized_header_after_a_delimiter_split_across_chunks_is_413(
    cut: int,
) -> None:
    # Part data goes to the decoder up to the next "--boundary" in one piece: a
    # delimiter begun in the previous chunk must not let the header block after it in
    # whole, past the limit.
    head = encode([part("f", b"x" * 5000, filename="f.bin")])
    head = head[: head.rindex(b"--" + BOUNDARY.encode())]
    tail = (
        b"--" + BOUNDARY.encode() + b'\r\nContent-Disposition: form-data; name="b"\r\n'
        b"X-A: " + b"a" * 20_000 + b"\r\n\r\n" + b"w" * 20_000
    )
    body = head + tail + b"\r\n--" + BOUNDARY.encode() + b"--\r\n"
    at = len(head) + cut
    with pytest.raises(RequestEntityTooLarge, match="part headers exceed"):
        await parse([body[:at], body[at:]])
    form, _ = await parse([body[:at], body[at:]], max_part_header_size=30_000)
    assert form["b"] == "w" * 20_000
