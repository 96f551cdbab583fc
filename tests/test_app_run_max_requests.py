"""app.run(max_requests=N) with one worker (review23)."""

from __future__ import annotations

from typing import Any

import pytest

from microframework import Microframework


@pytest.mark.parametrize("options", [{"max_requests": 2}, {}])
def test_max_requests_with_one_worker_is_served_by_a_supervisor_that_replaces_it(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    # hypercorn's own supervisor replaces a retired worker with workers=1 too; served in
    # this process, app.run(max_requests=2) ended the whole server after the 2nd request
    # (app.run() returned, exit 0, nothing said) and the next requests were refused.
    from microframework import serving

    how: list[tuple[str, int]] = []
    monkeypatch.setattr(
        serving,
        "_supervise",
        lambda config, workers, watch: how.append(("supervised", workers)) or 0,
    )
    monkeypatch.setattr(
        serving, "_run", lambda config: how.append(("in process", 0)) or 0
    )
    app = Microframework("recycled")
    serving.serve_app(app, port=0, locator="recycled:app", **options)
    if options:
        assert how == [("supervised", 1)]
    else:  # without max_requests one worker still serves in this process
        assert how == [("in process", 0)]
