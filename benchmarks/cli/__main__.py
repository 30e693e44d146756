"""``python -m benchmarks.cli`` is ``tadp-bench``."""

import sys

from benchmarks.cli import main

sys.exit(main())
