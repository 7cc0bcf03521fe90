"""Store: the line's SQLite file, written by the agent, read by the TUI and `report`.

Interface (see docs/store.md)::

    store = Store.open(path)                     # writer: WAL, synchronous=FULL, migrations
    store.append(event, messages=())             # event row + its MQTT outbox rows, one transaction
    store.enqueue(messages)                      # outbox rows alone
    store.outbox_peek(limit) / outbox_ack(seqs) / outbox_depth() / outbox_trim(max_rows)
    store.assign_reason(stop_id, reason)         # latest wins; KeyError for an unknown stop
    store.events(start, end) / stops(...) / parts(...)
    store.save_shift_result(obj) / shift_results()
    store.record_stats(ts, stats) / latest_stats()
    store.meta_get(key) / meta_set(key, value) / save_config(toml_text)
    store.export_events(path)                    # the contract's JSON Lines event log
    reader = open_readonly(path)                 # the same reads, no writes
"""

from agent.store.records import STOP_STATES, OutboxMessage, OutboxRow, PartRow, Stop
from agent.store.store import (
    CONFIG_KEY,
    Store,
    StoreError,
    StoreWriteError,
    open_readonly,
)

__all__ = [
    "CONFIG_KEY",
    "STOP_STATES",
    "OutboxMessage",
    "OutboxRow",
    "PartRow",
    "Stop",
    "Store",
    "StoreError",
    "StoreWriteError",
    "open_readonly",
]
