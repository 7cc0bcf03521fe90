"""`oee-agent causes --db DB list|reset`: the examples stop causes are learnt from.

`list` prints every example (a stop a supervisor gave a reason code, with what the
camera saw) and how many each code has; `--json` prints them as JSON. `reset` forgets
them all: later suggestions fall back to the built-in causes until supervisors assign
reasons again. Stops and their reasons are never touched.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from agent.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `causes` sub-command's arguments."""
    causes = sub.add_parser(
        "causes",
        help="list or reset the examples stop causes are learnt from",
        description="The line's examples for suggesting stop causes: stops a supervisor "
        "gave a reason code. `list` shows them, `reset` forgets them (the stops and their "
        "reasons stay; suggestions fall back to the built-in causes).",
    )
    causes.add_argument("action", choices=["list", "reset"], help="what to do")
    causes.add_argument("--db", required=True, metavar="DB", help="the line's SQLite store")
    causes.add_argument("--json", action="store_true", help="list: print JSON")


def run_command(args: argparse.Namespace) -> int:
    """Run `causes list` or `causes reset`.

    Raises:
        UserError: the store file is missing or not a store.
    """
    from agent.store.causes import reset_examples, stored_examples  # only when run
    from agent.store.store import Store, open_readonly

    if args.action == "reset":
        if not Path(args.db).is_file():
            raise UserError(f"{args.db}: no such store file")
        with Store.open(args.db) as store:
            forgotten = reset_examples(store)
        print(f"{args.db}: {forgotten} examples forgotten")
        return 0
    with open_readonly(args.db) as store:
        examples = stored_examples(store)
    if args.json:
        rows = [
            {"stop_id": e.stop_id, "reason": e.code, "assigned": e.assigned,
             "scene": e.scene.to_json()}
            for e in examples
        ]  # fmt: skip
        print(json.dumps(rows, indent=2))
        return 0
    for e in examples:
        print(f"{e.assigned[:19]}  {e.code:<16} {e.scene.summary()}  (stop {e.stop_id})")
    counts = Counter(e.code for e in examples)
    total = ", ".join(f"{code} {n}" for code, n in sorted(counts.items())) or "none"
    print(f"{len(examples)} examples: {total}")
    return 0
