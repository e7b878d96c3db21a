"""``python -m fipscheck``: the report on this Python (``fipscheck status``), or any command."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:] or ["status"]))
