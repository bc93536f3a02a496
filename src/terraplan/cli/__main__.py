"""``python -m terraplan.cli``: the same as the ``terraplan`` command."""

from terraplan.cli.app import main

main()
