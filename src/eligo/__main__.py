"""`python -m eligo`: the same as the `eligo` command."""

from eligo.cli import main

main()
