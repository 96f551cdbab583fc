"""``python -m microframework``: the same command line as the ``microframework`` script.

Rule: nothing runs on import. Worker processes spawned by ``run --reload`` or
``--workers`` import this module again (as ``__mp_main__``) and must not start a CLI.
"""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
