"""``python -m atlascope``: the command line, the same as the ``atlascope`` entry point."""

from atlascope.cli import main

if __name__ == "__main__":
    main(prog_name="atlascope")
