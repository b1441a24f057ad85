"""``python -m chimeqda`` runs the command line, like the ``chimeqda`` command."""

from chimeqda.cli import main

main()
