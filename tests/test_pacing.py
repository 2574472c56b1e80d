"""Pacing against Telegram's limits: pure logic on a fake monotonic clock."""

from __future__ import annotations

from core.runtime.pacing import Pacer, SlidingWindow, posts_in_chat
from core.settings import OutboxSettings


def test_sliding_window_allows_count_then_waits_for_the_oldest() -> None:
    window = SlidingWindow(count=3, period=10.0)
    for at in (0.0, 1.0, 2.0):
        assert window.next_slot(at) == at
        window.record(at)
    assert window.next_slot(2.5) == 10.0
    assert window.next_slot(10.0) == 10.0


def drive(pacer: Pacer, chats: list[int], until: float) -> list[tuple[float, int]]:
    """Send as fast as the pacer allows, round-robin over chats; return (time, chat) sends."""
    now, sent = 0.0, []
    while now < until:
        ready = [c for c in chats if pacer.chat_ready_at(c, now) <= now]
        if ready and pacer.global_ready_at(now) <= now:
            pacer.record(ready[0], now)
            sent.append((now, ready[0]))
            chats = [*chats[1:], chats[0]] if chats[0] == ready[0] else chats
        now = round(now + 0.001, 6)
    return sent


def max_in_window(times: list[float], period: float) -> int:
    return max(sum(1 for t in times if start <= t < start + period) for start in times)


def test_global_rate_stays_under_30_per_second() -> None:
    pacer = Pacer(OutboxSettings(safety_margin=0.03))
    sent = drive(pacer, chats=list(range(1, 500)), until=5.0)
    times = [at for at, _ in sent]
    assert max_in_window(times, 1.0) <= 30
    assert len(sent) >= 5 * 28  # and close to it (margin 3 %, 1 ms clock steps)


def test_group_gets_20_per_minute_and_private_one_per_second() -> None:
    pacer = Pacer(OutboxSettings(safety_margin=0.0))
    group = [at for at, _ in drive(pacer, chats=[-100], until=130.0)]
    assert max_in_window(group, 60.0) == 20
    pacer = Pacer(OutboxSettings(safety_margin=0.0))
    private = [at for at, _ in drive(pacer, chats=[42], until=10.0)]
    assert len(private) == 10 and max_in_window(private, 1.0) == 1


def test_pause_holds_only_that_chat() -> None:
    pacer = Pacer(OutboxSettings())
    pacer.pause(-1, until=50.0)
    assert pacer.chat_ready_at(-1, 0.0) == 50.0
    assert pacer.chat_ready_at(-2, 0.0) == 0.0


def test_time_scale_shrinks_windows() -> None:
    pacer = Pacer(OutboxSettings(safety_margin=0.0, time_scale=10.0))
    pacer.record(7, 0.0)
    assert abs(pacer.chat_ready_at(7, 0.0) - 0.1) < 1e-9


def test_removals_in_a_group_do_not_wait_behind_the_group_message_limit() -> None:
    # Telegram's 20 messages a minute per group count messages posted, not deletions: a
    # burst of removals is paced by the bot's overall rate only (and a 429 still pauses).
    pacer = Pacer(OutboxSettings())
    group = -100123
    for second in range(20):
        pacer.record(group, float(second))
    assert pacer.chat_ready_at(group, 20.0) > 20.0  # the 21st message waits
    assert pacer.chat_ready_at(group, 20.0, posts=False) == 20.0  # a deletion does not
    pacer.record(group, 20.0, posts=False)
    assert pacer.chat_ready_at(group, 20.0, posts=False) == 20.0
    pacer.pause(group, 25.0)
    assert pacer.chat_ready_at(group, 20.0, posts=False) == 25.0
    assert not posts_in_chat("deleteMessage") and posts_in_chat("sendMessage")
