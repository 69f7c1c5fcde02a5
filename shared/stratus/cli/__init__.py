"""The `stratus` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from stratus.cli import accounts, control, db, demo, keys, kill_switch, ops, up, views, watch
from stratus.crypto import CryptoError
from stratus.domain.errors import StratusError


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
    watch.register(commands)
    views.register(commands)
    control.register(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `stratus status | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # a person reads this: the reason on one line, no traceback
        print(f"stratus {args.command}: error: {reason(error)}", file=sys.stderr)
        return 1
    return result


def reason(error: Exception) -> str:
    """One line saying what went wrong (a field-by-field list for invalid input)."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'input'}: {item['msg']}"
            for item in error.errors()
        )
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else ""
    return (
        text if isinstance(error, StratusError | CryptoError) else f"{type(error).__name__}: {text}"
    )


if __name__ == "__main__":
    sys.exit(main())
