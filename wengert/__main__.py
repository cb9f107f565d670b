"""`python -m wengert ...`: the same command as the `wengert` script."""
import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
