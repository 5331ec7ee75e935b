"""``python -m bench [--quick] [--sections probe,throughput,...] [--out PATH]``.

A full run of every section writes docs/benchmarks.md; a quick or partial run only prints,
so that it never replaces the full page, unless ``--out`` names a file.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench.report import Target, command_line, load_average, machine_table, page, targets_table

# Section name (module bench.<name>, with run(ctx) -> list[Table]) -> its heading, in the order they run.
SECTIONS = {
    "probe": "Machine limit: matmul probe",
    "throughput": "Training throughput and model FLOPs utilisation",
    "scaling": "Scaling with context length and width",
    "frontend": "Front end",
    "generation": "Generation",
    "integrity": "Reading sealed files",
}
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


@dataclass
class Context:
    """What every section gets: the mode, the devices to measure, and the targets it adds to."""

    quick: bool
    devices: list[torch.device]
    targets: list[Target] = field(default_factory=list)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a one-minute pass: smaller shapes, fewer steps")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated, from {', '.join(SECTIONS)} (default: all)"
    )
    parser.add_argument("--out", type=Path, help="write the page here (default: docs/benchmarks.md for a full run)")
    args = parser.parse_args(argv)
    args.sections = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = [name for name in args.sections if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.out is None and not args.quick and args.sections == list(SECTIONS):
        args.out = DEFAULT_OUT
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    ctx = Context(quick=args.quick, devices=devices)
    load_before = load_average()
    results = []
    for name in args.sections:
        started = time.perf_counter()
        tables = importlib.import_module(f"bench.{name}").run(ctx)
        results.append((SECTIONS[name], tables))
        print(f"## {SECTIONS[name]}\n", *(table.markdown() for table in tables), sep="\n", flush=True)
        print(f"[{name}: {time.perf_counter() - started:.0f} s]", file=sys.stderr, flush=True)
    machine = machine_table(command_line(), load_before, load_average())
    print(machine.markdown(), targets_table(ctx.targets).markdown() if ctx.targets else "", sep="\n")
    text = page(machine, ctx.targets, results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
