from datetime import UTC, datetime, timedelta

from agent.flow.stops import Stamp, StopDetector

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
FPS = 10


def stamp(t: float) -> Stamp:
    return Stamp(t, T0 + timedelta(seconds=t))


def drive(detector: StopDetector, spans: list[tuple[float, bool, bool]]):
    """spans: (seconds, moving, parts in view); returns (state, reason, at seconds)."""
    out = []
    t = 0.0
    for seconds, moving, parts in spans:
        for _ in range(round(seconds * FPS)):
            for change in detector.update(stamp(t), moving, parts):
                out.append((change.state, change.reason, round(change.at.mono, 2)))
            t += 1 / FPS
    return out


def test_a_halt_longer_than_stop_after_is_a_backdated_stop() -> None:
    changes = drive(StopDetector(2.0), [(5, True, True), (4, False, True), (3, True, True)])
    assert changes == [("stopped", None, 5.0), ("running", None, 9.0)]


def test_a_short_halt_is_no_stop() -> None:
    changes = drive(StopDetector(2.0), [(5, True, True), (1.5, False, True), (3, True, True)])
    assert changes == []


def test_a_blip_of_motion_does_not_end_a_stop() -> None:
    changes = drive(
        StopDetector(2.0, resume_after_s=0.2),
        [(3, True, True), (3, False, True), (0.1, True, True), (3, False, True), (1, True, True)],
    )
    assert changes == [("stopped", None, 3.0), ("running", None, 9.1)]


def test_an_empty_moving_belt_is_a_starved_stop() -> None:
    changes = drive(StopDetector(2.0), [(4, True, True), (5, True, False), (2, True, True)])
    assert changes == [("stopped", "starved", 4.0), ("running", None, 9.0)]


def test_starved_after_has_its_own_threshold() -> None:
    changes = drive(
        StopDetector(2.0, starved_after_s=6.0), [(4, True, True), (5, True, False), (2, True, True)]
    )
    assert changes == []


def test_a_halt_during_starvation_becomes_a_plain_stop() -> None:
    changes = drive(
        StopDetector(2.0), [(2, True, True), (3, True, False), (4, False, False), (2, True, True)]
    )
    assert changes == [("stopped", "starved", 2.0), ("stopped", None, 5.0), ("running", None, 9.0)]


def test_changes_never_go_back_in_time() -> None:
    changes = drive(
        StopDetector(1.0),
        [(1, True, True), (1.5, False, False), (0.5, True, False), (3, True, False)],
    )
    times = [at for _, _, at in changes]
    assert times == sorted(times)
