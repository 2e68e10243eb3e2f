"""The `--infini BIN` flag that CTest passes to the training tests (the
built binary's path), taken out of argv before unittest reads the rest."""

from typing import List, Optional, Tuple


def split_infini_flag(argv: List[str]) -> Tuple[Optional[str], List[str]]:
    """(the value of --infini or None, argv without it)."""
    infini, rest = None, argv[:1]
    args = iter(argv[1:])
    for arg in args:
        if arg == "--infini":
            infini = next(args)
        else:
            rest.append(arg)
    return infini, rest
