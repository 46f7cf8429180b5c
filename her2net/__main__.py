import sys

from her2net.cli.main import main

sys.exit(main())
