"""The parts of the `itr` command line that are not the dev stack: logging, settings as the
operator sees them (by ITR_* variable), and `itr check`. `cli.py` wires them into commands."""
