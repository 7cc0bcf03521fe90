"""Reason codes in and out of the feed: `cmd/reason` commands, and announcements.

Routing, no connection: a command received on `cmd/reason` is validated
(`commands.parse_reason_command`), carried out against the store, and answered on
`cmd/result`; every reason assignment made anywhere (over MQTT, or in the store by the
TUI) is announced once: the stop goes out again with its reason, and the retained
`state` while the stop lasts. Everything leaves through the store's outbox, in the
transaction that reads the stop, so an announcement cannot contradict a stop's end
being written at the same moment. Runs on the publisher's outbox thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from agent.clock import Clock
from agent.config import Config
from agent.publish.commands import (
    MAX_COMMAND_BYTES,
    CommandRejected,
    ReasonCommand,
    parse_reason_command,
)
from agent.publish.counters import PublisherCounters
from agent.publish.topics import (
    Topics,
    encode,
    known_reasons,
    reason_update_messages,
    result_payload,
)
from agent.store import OutboxMessage, Store, StoreWriteError

logger = logging.getLogger(__name__)

#: The store's meta key: the last reason assignment the feed announced.
REASONS_ANNOUNCED_KEY = "mqtt_reasons_announced"


class ReasonRouter:
    """Carries out `cmd/reason` and announces reason assignments (see the module doc).

    Args:
        send_now: publishes a message straight to the broker, for a command's answer
            when the store refuses writes (the answer matters now, not after a restart).
        wake: asks the outbox thread to send what was just queued.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        counters: PublisherCounters,
        send_now: Callable[[OutboxMessage], None],
        wake: Callable[[], None],
    ) -> None:
        self.config = config
        self.store = store
        self.topics = Topics.for_config(config)
        self._clock = clock
        self._reasons = known_reasons(config)
        self._send_now = send_now
        self._wake = wake
        self._announced = 0
        self.counters = counters

    def resume(self) -> None:
        """Pick up where the last run's announcements ended (a store's meta)."""
        announced = self.store.meta_get(REASONS_ANNOUNCED_KEY)
        if not isinstance(announced, int):
            # a store older than this feature: its past assignments are not news
            announced = self.store.last_reason_seq()
            try:
                self.store.meta_set(REASONS_ANNOUNCED_KEY, announced)
            except StoreWriteError as exc:  # a full disk must not keep the feed down
                logger.warning("mqtt: cannot note the announced reasons: %s", exc)
        self._announced = announced

    def handle(self, topic: str, payload: bytes | None, size: int) -> None:
        """One command received on `topic` (`payload` None: it was over the size limit)."""
        try:
            if self.topics.kind(topic) != "cmd/reason":
                raise CommandRejected(f"unknown command topic {topic[:120]!r}")
            if payload is None:
                raise CommandRejected(f"payload of {size} bytes is over {MAX_COMMAND_BYTES}")
            command = parse_reason_command(payload, self._reasons)
            try:
                self._assign(command)
            except StoreWriteError as exc:
                raise CommandRejected(
                    f"the store refuses writes, nothing assigned ({exc})",
                    command.request_id,
                    command.stop_id,
                    command.reason,
                ) from None
        except CommandRejected as exc:
            self.counters.commands_rejected += 1
            logger.warning("mqtt: rejected command on %s: %s", topic[:120], exc)
            self._result(
                ok=False,
                error=str(exc),
                request_id=exc.request_id,
                stop_id=exc.stop_id,
                reason=exc.reason,
            )

    def _assign(self, command: ReasonCommand) -> None:
        try:
            self.store.assign_reason(command.stop_id, command.reason, source="mqtt")
        except KeyError:
            raise CommandRejected(
                f"unknown stop id {command.stop_id!r}",
                command.request_id,
                command.stop_id,
                command.reason,
            ) from None
        self.counters.commands_ok += 1
        logger.info("mqtt: stop %s assigned reason %r", command.stop_id, command.reason)
        self.announce()  # the stop with its reason goes out before the result
        self._result(
            ok=True, stop_id=command.stop_id, reason=command.reason, request_id=command.request_id
        )

    def announce(self) -> None:
        """Announce every reason assignment not yet announced (MQTT's, the TUI's...).

        Each stop goes out again with its current reason (and the retained `state`
        while it is in progress), read and queued in one transaction.
        """
        assignments = self.store.reason_assignments(self._announced)
        if not assignments:
            return
        for stop_id in dict.fromkeys(stop_id for _, stop_id in assignments):

            def build(stop_id: str = stop_id) -> list[OutboxMessage]:
                try:
                    return reason_update_messages(self.store.stop(stop_id), self.config)
                except KeyError:
                    return []

            self.store.outbox.enqueue_built(build)
        self._announced = assignments[-1][0]
        self.store.meta_set(REASONS_ANNOUNCED_KEY, self._announced)
        self._wake()

    def _result(
        self,
        *,
        ok: bool,
        stop_id: str | None = None,
        reason: str | None = None,
        request_id: str | None = None,
        error: str | None = None,
    ) -> None:
        payload = result_payload(
            self._clock.wall(),
            ok=ok,
            stop_id=stop_id,
            reason=reason,
            request_id=request_id,
            error=error,
        )
        result = OutboxMessage(self.topics.cmd_result, encode(payload), qos=1)
        try:
            self.store.outbox.enqueue([result])
        except StoreWriteError as exc:
            logger.error("mqtt: cannot queue a command result (%s); sending it directly", exc)
            self._send_now(result)
