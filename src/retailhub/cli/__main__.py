"""Run the command line as `python -m retailhub.cli`."""

from retailhub.cli import main

main()
