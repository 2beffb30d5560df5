"""The ``archive`` command (``python -m archive`` too)."""

import sys


def main() -> None:
    try:
        from archive.cli import cli
    except KeyboardInterrupt:  # Ctrl-C while the program starts: Python's traceback helped no one
        sys.stderr.write("Interrupted\n")
        sys.exit(130)
    cli(prog_name="archive")


if __name__ == "__main__":
    main()
