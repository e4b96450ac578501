"""Files the repository generates and commits (docs/config_reference.md, the cost table of
docs/cifar10.md): written, or with ``check`` compared with what is committed.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def write_generated(path: Path, text: str, check: bool) -> int:
    """Write a generated doc; with ``check``, only compare: 1 (and a message) when it differs."""
    name = path.relative_to(REPO)
    if check:
        if not path.exists() or path.read_text() != text:
            print(f"{name} is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    print(f"wrote {name}")
    return 0
