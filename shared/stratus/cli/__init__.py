"""The `stratus` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from stratus.cli import accounts, db, demo, keys, kill_switch, ops, up


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="stratus",
        description="Stratus: signals to risk-checked exchange orders, on Google Cloud "
        "or on this machine with no cloud at all.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo.register(commands)
    up.register(commands)
    ops.register(commands)
    db.register(commands)
    keys.register(commands)
    accounts.register(commands)
    kill_switch.register(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
