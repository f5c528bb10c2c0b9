"""``python -m eligo``: the same command line as the ``eligo`` script."""

from eligo.cli import main

if __name__ == "__main__":
    main()
