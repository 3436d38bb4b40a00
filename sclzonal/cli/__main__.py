"""`python -m sclzonal.cli`: the same as the `sclzonal` command."""

import sys

from sclzonal.cli import main

sys.exit(main())
