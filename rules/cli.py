"""``sentinelle rules check|test [PATHS...]``: validate packs, run their YAML test cases.

``main(argv)`` returns the exit status (0: all good, 1: errors or failures) so the
``sentinelle`` command can mount it as a subcommand.
"""

from __future__ import annotations

import argparse
import sys

from rules.check import check_paths
from rules.testing import run_tests


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="sentinelle rules",
                                description="Validate rule packs or run their test cases.")
    p.add_argument("action", choices=["check", "test"])
    p.add_argument("paths", nargs="*",
                   help="pack files or directories (default: the shipped rules/packs)")
    p.add_argument("-q", "--quiet", action="store_true", help="only print failures")
    args = p.parse_args(argv)
    if args.action == "check":
        errs = check_paths(args.paths or None)
        for e in errs:
            print(e, file=sys.stderr)
        if not errs and not args.quiet:
            print("rule packs OK")
        return 1 if errs else 0
    errs = check_paths(args.paths or None)
    if errs:
        for e in errs:
            print(e, file=sys.stderr)
        return 1
    results = run_tests(args.paths or None)
    failed = [r for r in results if not r.ok]
    for r in results:
        if not r.ok or not args.quiet:
            print(r)
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    raise SystemExit(main())
