"""``python -m microframework``: the same command line as the ``microframework`` script.

Rule: nothing runs on import: ``run --reload``/``--workers`` processes import it again.
"""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
