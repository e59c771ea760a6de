"""Incidents: one per problem however long it lasts, resolved after quiet days, retraining
requested once per incident with a cool-down, never for a broken feed."""

from __future__ import annotations

from datetime import date, timedelta

from pipelines.monitoring.findings import (
    CRITICAL,
    DRIFT,
    FIX_FEED,
    PERFORMANCE,
    RETRAIN,
    WARNING,
    Finding,
)
from pipelines.monitoring.incidents import OPEN, RESOLVED, changes_on, fold, open_on

D = [date(2013, 3, 1) + timedelta(days=i) for i in range(20)]


def _perf(day: date, severity: str = WARNING) -> Finding:
    return Finding(PERFORMANCE, "realized performance", "brier", severity, RETRAIN, f"{day}: brier")


def _feed(day: date) -> Finding:
    return Finding(DRIFT, "weather", "wx_temp_f", CRITICAL, FIX_FEED, f"{day}: stepped")


def _days(found: dict[int, list[Finding]], n: int = 10) -> list[tuple[date, list[Finding]]]:
    return [(D[i], found.get(i, [])) for i in range(n)]


def test_a_breach_that_lasts_is_one_incident_updated_each_day() -> None:
    days = _days({i: [_perf(D[i])] for i in range(2, 6)})
    [incident] = fold(days, resolve_after=2, cooldown=7)
    assert incident.incident_id == f"{D[2]}/performance/realized performance"
    assert (incident.opened_on, incident.last_seen_on, incident.days_seen) == (D[2], D[5], 4)
    assert incident.status == RESOLVED and incident.resolved_on == D[7]  # two quiet days
    assert incident.summary == f"{D[5]}: brier"
    assert [i.incident_id for i in open_on(fold(days[:7], 2, 7), D[6])] == [incident.incident_id]


def test_one_quiet_day_does_not_close_it_but_a_later_return_opens_a_new_one() -> None:
    days = _days({2: [_perf(D[2])], 4: [_perf(D[4])], 8: [_perf(D[8])]})
    first, second = fold(days, resolve_after=2, cooldown=7)
    assert (first.opened_on, first.last_seen_on, first.resolved_on) == (D[2], D[4], D[6])
    assert (second.opened_on, second.status, second.resolved_on) == (D[8], OPEN, None)


def test_retraining_is_requested_once_per_incident_and_not_within_the_cool_down() -> None:
    days = _days({1: [_perf(D[1])], 2: [_perf(D[2])], 6: [_perf(D[6])], 15: [_perf(D[15])]}, 20)
    first, second, third = fold(days, resolve_after=2, cooldown=7)
    assert first.retrain_requested_on == D[1]
    assert second.retrain_requested_on is None  # 5 days after the first request
    assert third.retrain_requested_on == D[15]


def test_a_broken_feed_never_requests_retraining() -> None:
    [incident] = fold(_days({3: [_feed(D[3])]}), resolve_after=2, cooldown=0)
    assert incident.remedy == FIX_FEED and incident.retrain_requested_on is None


def test_changes_say_what_each_day_did() -> None:
    days = _days({2: [_perf(D[2])], 3: [_perf(D[3], CRITICAL), _feed(D[3])]})
    assert [(c.event, c.incident.kind) for c in changes_on(days, D[2], 2, 7)] == [
        ("opened", PERFORMANCE)
    ]
    assert sorted((c.event, c.incident.kind) for c in changes_on(days, D[3], 2, 7)) == [
        ("escalated", PERFORMANCE),
        ("opened", DRIFT),
    ]
    assert {c.event for c in changes_on(days, D[5], 2, 7)} == {"resolved"}
    assert changes_on(days, D[4], 2, 7) == []


def test_the_fold_does_not_depend_on_the_order_days_arrive_in() -> None:
    days = _days({2: [_perf(D[2])], 3: [_feed(D[3])], 4: [_perf(D[4])]})
    assert fold(list(reversed(days)), 2, 7) == fold(days, 2, 7)


def test_a_day_that_could_not_judge_performance_is_not_a_quiet_day() -> None:
    # Scoring stopped after 03-03: no predictions, so no performance check on 03-04..03-07.
    days = [(D[i], [_perf(D[i])] if i in (2, 3) else [], None) for i in range(4)]
    days += [(D[i], [], frozenset({"volume", "drift", "missing_feature"})) for i in range(4, 8)]
    [incident] = fold(days, resolve_after=2, cooldown=7)
    assert incident.status == OPEN and incident.resolved_on is None
    days.append((D[8], [], None))
    days.append((D[9], [], None))
    [incident] = fold(days, resolve_after=2, cooldown=7)
    assert incident.resolved_on == D[9]  # two days that judged performance and found nothing


def test_a_broken_feed_outranks_retraining_in_the_same_incident() -> None:
    drift = Finding(DRIFT, "weather", "wx_humidity_pct", WARNING, RETRAIN, "range")
    [incident] = fold(_days({3: [drift, _feed(D[3])]}), resolve_after=2, cooldown=0)
    assert incident.remedy == FIX_FEED and incident.retrain_requested_on is None
    [later] = fold(_days({3: [drift], 4: [_feed(D[4])], 5: [drift]}), 2, 0)
    assert later.remedy == FIX_FEED  # once the feed broke, the incident is the feed's


def test_an_incident_opened_in_the_cool_down_asks_for_retraining_when_it_ends() -> None:
    drift = Finding(DRIFT, "schedule", "carrier", WARNING, RETRAIN, "psi")
    days = _days({0: [drift], **{i: [_perf(D[i])] for i in range(2, 12)}}, 12)
    incidents = {i.kind: i for i in fold(days, resolve_after=3, cooldown=7)}
    assert incidents[DRIFT].retrain_requested_on == D[0]
    assert incidents[PERFORMANCE].opened_on == D[2]
    assert incidents[PERFORMANCE].retrain_requested_on == D[7]  # the cool-down's first day out
    assert [c.event for c in changes_on(days, D[7], 3, 7)] == ["retraining requested"]
    assert changes_on(days, D[8], 3, 7) == []  # once per incident
