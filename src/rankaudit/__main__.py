"""`python -m rankaudit` runs the command line."""

from rankaudit.cli import main

main()
