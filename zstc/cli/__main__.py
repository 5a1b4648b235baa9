"""`python -m zstc.cli ...` runs the client as the `zstc` command does (as before the commands
moved into this package), e.g. where the console script is not on PATH."""

from zstc.cli import main

raise SystemExit(main())
