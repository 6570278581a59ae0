"""Files Attention Atlas ships beside the package: page templates, the site's mkdocs.yml, docs pages.

In a checkout they are the top-level folders; a wheel installs them under
``<prefix>/share/attention-atlas/`` (pyproject's data-files), so `pip install` users get the
same defaults, and `atlas init` copies them into a report project to edit.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
INSTALLED = Path(sysconfig.get_path("data")) / "share" / "attention-atlas"


def shipped(name: str) -> Path:
    """``templates``, ``mkdocs.yml`` or ``docs``: the checkout's copy when there is one, else the installed one."""
    local = CHECKOUT / name
    if local.exists() and (CHECKOUT / "pyproject.toml").is_file():
        return local
    return INSTALLED / name
