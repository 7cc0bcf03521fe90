"""Store: the line's SQLite file, written by the agent, read by the TUI and `report`.

Interface (see docs/store.md)::

    store = Store.open(path)                     # writer: WAL, synchronous=FULL, migrations
    store.append(event, messages=())             # event row + its MQTT outbox rows, one transaction
    store.outbox.enqueue(messages)               # outbox rows alone (agent.store.outbox)
    store.outbox.peek(limit) / ack(seqs) / depth() / trim(max_rows) / lost()
    store.assign_reason(stop_id, reason)         # latest wins; KeyError for an unknown stop
    store.events(start, end) / stops(...) / parts(...)
    store.save_shift_result(obj) / shift_results()
    store.record_stats(ts, stats) / latest_stats()
    store.meta_get(key) / meta_set(key, value) / save_config(toml_text)
    store.export_events(path)                    # the contract's JSON Lines event log
    reader = open_readonly(path)                 # the same reads, no writes
"""

from agent.store.db import StoreError, StoreWriteError
from agent.store.outbox import Outbox
from agent.store.records import STOP_STATES, OutboxMessage, OutboxRow, PartRow, Stop
from agent.store.store import CONFIG_KEY, Store, open_readonly

__all__ = [
    "CONFIG_KEY",
    "STOP_STATES",
    "Outbox",
    "OutboxMessage",
    "OutboxRow",
    "PartRow",
    "Stop",
    "Store",
    "StoreError",
    "StoreWriteError",
    "open_readonly",
]
