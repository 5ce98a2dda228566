#!/usr/bin/env python
"""Django's command-line utility; ``opora`` (installed in the virtualenv) is the same thing."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from opora.cli import main

if __name__ == "__main__":
    main()
