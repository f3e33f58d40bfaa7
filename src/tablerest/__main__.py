"""``python -m tablerest``: the same as the ``tablerest`` command."""

from .cli import main

main()
