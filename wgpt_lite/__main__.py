import sys

from wgpt_lite.cli import main

sys.exit(main())
