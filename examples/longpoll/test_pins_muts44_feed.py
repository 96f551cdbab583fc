"""Pins from mutation testing (helper muts44, session 36) for the long-poll feed
(examples/longpoll/feed.py). Lives beside test_feed.py."""

from __future__ import annotations

import asyncio
import logging

import pytest
from feed import create_app

LIMIT = 10


async def test_notify_takes_a_body_of_exactly_16_kib_and_no_more() -> None:
    # feed.create_app: MAX_CONTENT_LENGTH = 16 * 1024 (X17), at the byte.
    app = create_app("memory://")
    app.testing = True
    headers = {"Content-Type": "application/json"}
    frame = len(b'{"message": ""}')
    async with asyncio.timeout(LIMIT), app.test_app() as test_app:
        client = test_app.test_client()
        for size, status in ((16 * 1024, 201), (16 * 1024 + 1, 413)):
            body = b'{"message": "' + b"x" * (size - frame) + b'"}'
            assert len(body) == size
            response = await client.post("/notify", data=body, headers=headers)
            assert response.status_code == status


async def test_an_unavailable_broadcast_is_logged_as_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # feed.broadcast_unavailable: app.logger.warning (X19): a 503 an operator hears of.
    app = create_app("memory://")
    app.testing = True
    async with asyncio.timeout(LIMIT), app.test_app() as test_app:
        await app.extensions["broadcast"].disconnect()
        with caplog.at_level(logging.WARNING, logger=app.logger.name):
            response = await test_app.test_client().post(
                "/notify", json={"message": "x"}
            )
    assert response.status_code == 503
    assert [
        r.levelno for r in caplog.records if "broadcast unavailable" in r.message
    ] == [logging.WARNING]
