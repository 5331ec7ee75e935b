"""Command line: ``python -m wgpt_lite <command> --help`` explains each command.

Each command lives beside the concept it drives; its module exposes
``add_commands(subparsers)`` and sets ``func`` on the parser it adds.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from wgpt_lite.errors import WgptError

# Modules that contribute sub-commands, in the order --help lists them.
COMMAND_MODULES = ("wgpt_lite.environment", "wgpt_lite.demo", "wgpt_lite.corpora", "wgpt_lite.reproduce")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wgpt_lite",
        description="Whisper-GPT lite: causal log-mel + coarse audio tokens, three small language models.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except WgptError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
