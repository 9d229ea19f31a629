"""Run every benchmark: ``python -m bench`` (``--json PATH`` also writes the collected results)."""

from __future__ import annotations

import json
import sys

from bench import detection


def main(argv: list[str]) -> None:
    out: dict = {}
    print(detection.run(out))
    if "--json" in argv[:-1]:
        with open(argv[argv.index("--json") + 1], "w") as file:
            json.dump(out, file, indent=2)


if __name__ == "__main__":
    main(sys.argv[1:])
