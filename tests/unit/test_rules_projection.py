"""Unit tests of coordinator/domain/rules.py and projection.py: decide events, fold them into state."""

from __future__ import annotations

import copy
import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from coordinator.domain import commands as c
from coordinator.domain import events as ev
from coordinator.domain import validation as v
from coordinator.domain.errors import Conflict, NotFound, ValidationError
from coordinator.domain.events import StoredEvent
from coordinator.domain.model import (
    ASSIGNMENT_FLOW,
    ASSIGNMENT_STATUSES,
    Assignment,
    Demonstration,
    Incident,
    Unit,
)
from coordinator.domain.projection import State, Touched, apply, fold, touched_by
from coordinator.domain.rules import Decision, decide
from coordinator.domain.timefmt import iso

START = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


class World:
    """A State driven by the rules: decide, wrap each NewEvent with the next seq, apply."""

    def __init__(self) -> None:
        self.state = State()
        self.log: list[StoredEvent] = []
        self.touched: list[list[Touched]] = []
        self._ids = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06x}"

    def run(self, command: c.Command, actor: str = "ops") -> Decision:
        """Decide a command and apply what it decided; return the decision."""
        decision = decide(self.state, command, self.new_id)
        for new in decision.events:
            seq = len(self.log) + 1
            stored = StoredEvent(seq, iso(START + timedelta(seconds=seq)), actor, new.type, new.payload)
            self.log.append(stored)
            self.touched.append(apply(self.state, stored))
        return decision

    def new_events(self, command: c.Command) -> list[StoredEvent]:
        """Run a command and return the stored events it appended."""
        before = len(self.log)
        self.run(command)
        return self.log[before:]

    # Shortcuts that go through the parsers, as the entry points do.

    def demonstration(self, **body: Any) -> str:
        decision = self.run(v.create_demonstration({"name": "March", "lat": 41.88, "lon": -87.63, **body}))
        assert decision.entity_id is not None
        return decision.entity_id

    def unit(self, callsign: str = "MED-1", kind: str = "medical_team") -> str:
        token = f"{next(self._ids):064x}"
        decision = self.run(v.register_unit({"callsign": callsign, "kind": kind}, token_sha256=token))
        assert decision.entity_id is not None
        return decision.entity_id

    def incident(self, **body: Any) -> str:
        decision = self.run(v.report_incident({"kind": "other", "lat": 41.88, "lon": -87.63, **body}))
        assert decision.entity_id is not None
        return decision.entity_id

    def dispatch(self, unit_id: str, **target: str) -> str:
        decision = self.run(v.dispatch_assignment({"unit_id": unit_id, "kind": "observe", **target}))
        assert decision.entity_id is not None
        return decision.entity_id

    def step(self, assignment_id: str, status: str, reason: str | None = None) -> Decision:
        body = {"status": status} if reason is None else {"status": status, "reason": reason}
        return self.run(v.change_assignment_status(assignment_id, body))


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def dispatched(world: World) -> tuple[str, str]:
    """A medical team dispatched to a demonstration: (unit_id, assignment_id)."""
    unit_id = world.unit()
    assignment_id = world.dispatch(unit_id, demonstration_id=world.demonstration())
    return unit_id, assignment_id


def refusal(world: World, command: c.Command, error: type[Exception]) -> Any:
    """Run a command the rules must refuse; check that nothing was applied."""
    before = copy.deepcopy(world.state)
    with pytest.raises(error) as caught:
        world.run(command)
    assert world.state == before
    return caught.value


# --- the assignment lifecycle --------------------------------------------


def test_dispatch_records_assignment_and_marks_unit_assigned(world: World) -> None:
    unit_id = world.unit()
    incident_id = world.incident(kind="injury", triage="minor")
    events = world.new_events(
        v.dispatch_assignment(
            {
                "unit_id": unit_id,
                "kind": "medical_aid",
                "incident_id": incident_id,
                "priority": 1,
                "note": "gate 3",
            }
        )
    )
    assert [e.type for e in events] == [ev.ASSIGNMENT_DISPATCHED]
    assignment = world.state.assignments[events[0].payload["id"]]
    assert (assignment.unit_id, assignment.kind, assignment.incident_id, assignment.demonstration_id) == (
        unit_id,
        "medical_aid",
        incident_id,
        None,
    )
    assert (assignment.priority, assignment.note, assignment.dispatched_by) == (1, "gate 3", "ops")
    assert assignment.status == "dispatched"
    assert assignment.times == {"dispatched": events[0].at}
    unit = world.state.units[unit_id]
    assert (unit.status, unit.active_assignment_id) == ("assigned", assignment.id)


def test_assignment_lifecycle_timestamps_each_step_and_moves_unit_status(
    world: World, dispatched: tuple[str, str]
) -> None:
    unit_id, assignment_id = dispatched
    expected_unit_status = {
        "delivered": "assigned",
        "acknowledged": "assigned",
        "en_route": "en_route",
        "on_scene": "on_scene",
        "completed": "available",
    }
    times = {"dispatched": world.log[-1].at}
    for step in ASSIGNMENT_FLOW[1:]:
        events = world.new_events(v.change_assignment_status(assignment_id, {"status": step}))
        assert [e.type for e in events] == [ev.ASSIGNMENT_STEP_EVENTS[step]]
        assert events[0].payload == {"id": assignment_id, "unit_id": unit_id}
        times[step] = events[0].at
        assignment = world.state.assignments[assignment_id]
        assert assignment.status == step
        assert assignment.times == times
        assert world.state.units[unit_id].status == expected_unit_status[step]
    assert list(world.state.assignments[assignment_id].times) == list(ASSIGNMENT_FLOW)
    assert len(set(times.values())) == len(ASSIGNMENT_FLOW)
    unit = world.state.units[unit_id]
    assert unit.active_assignment_id is None
    assert not world.state.assignments[assignment_id].active


def test_completed_unit_can_be_dispatched_again(world: World, dispatched: tuple[str, str]) -> None:
    unit_id, assignment_id = dispatched
    world.step(assignment_id, "completed")
    second = world.dispatch(unit_id, incident_id=world.incident())
    assert world.state.units[unit_id].active_assignment_id == second
    assert world.state.units[unit_id].status == "assigned"


def test_repeated_acknowledgement_returns_no_events(world: World, dispatched: tuple[str, str]) -> None:
    _, assignment_id = dispatched
    world.step(assignment_id, "acknowledged")
    before = copy.deepcopy(world.state)
    decision = world.step(assignment_id, "acknowledged")
    assert decision.events == []
    assert (decision.collection, decision.entity_id) == ("assignments", assignment_id)
    assert world.state == before


def test_late_en_route_after_on_scene_is_quietly_ignored(world: World, dispatched: tuple[str, str]) -> None:
    unit_id, assignment_id = dispatched
    world.step(assignment_id, "on_scene")
    before = copy.deepcopy(world.state)
    for late in ("en_route", "acknowledged", "delivered"):
        assert world.step(assignment_id, late).events == []
    assert world.state == before
    assert world.state.assignments[assignment_id].status == "on_scene"
    assert world.state.units[unit_id].status == "on_scene"


def test_steps_may_skip_ahead(world: World, dispatched: tuple[str, str]) -> None:
    unit_id, assignment_id = dispatched
    world.step(assignment_id, "on_scene")
    assert set(world.state.assignments[assignment_id].times) == {"dispatched", "on_scene"}
    assert world.state.units[unit_id].status == "on_scene"


def _end(world: World, assignment_id: str, ending: str) -> None:
    if ending == "completed":
        for step in ("acknowledged", "en_route", "on_scene", "completed"):
            world.step(assignment_id, step)
    elif ending == "declined":
        world.step(assignment_id, "declined", reason="vehicle down")
    else:
        world.step(assignment_id, "cancelled")


@pytest.mark.parametrize("ending", ["completed", "declined", "cancelled"])
@pytest.mark.parametrize("later", [s for s in ASSIGNMENT_STATUSES if s != "dispatched"])
def test_any_other_step_after_assignment_ended_is_a_conflict(
    world: World, dispatched: tuple[str, str], ending: str, later: str
) -> None:
    unit_id, assignment_id = dispatched
    _end(world, assignment_id, ending)
    assert world.state.assignments[assignment_id].status == ending
    assert world.state.units[unit_id].status == "available"
    if later == ending:
        assert world.step(assignment_id, later, reason="again").events == []
        return
    command = c.ChangeAssignmentStatus(id=assignment_id, status=later, reason="late")
    assert refusal(world, command, Conflict).field == "status"


def test_decline_records_reason_and_frees_unit(world: World, dispatched: tuple[str, str]) -> None:
    unit_id, assignment_id = dispatched
    world.step(assignment_id, "acknowledged")
    events = world.new_events(
        v.change_assignment_status(assignment_id, {"status": "declined", "reason": "no medic"})
    )
    assert [e.type for e in events] == ["AssignmentDeclined"]
    assert events[0].payload["reason"] == "no medic"
    assignment = world.state.assignments[assignment_id]
    assert (assignment.status, assignment.reason) == ("declined", "no medic")
    assert "declined" in assignment.times
    assert world.state.units[unit_id].active_assignment_id is None
    assert world.state.units[unit_id].status == "available"


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_decline_without_reason_is_refused_by_validation(reason: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        v.change_assignment_status("asg-000001", {"status": "declined", "reason": reason})
    assert caught.value.field == "reason"


def test_decline_is_refused_once_on_scene(world: World, dispatched: tuple[str, str]) -> None:
    _, assignment_id = dispatched
    world.step(assignment_id, "on_scene")
    command = v.change_assignment_status(assignment_id, {"status": "declined", "reason": "too busy"})
    assert refusal(world, command, Conflict).field == "status"


def test_cancel_from_on_scene_frees_unit(world: World, dispatched: tuple[str, str]) -> None:
    unit_id, assignment_id = dispatched
    world.step(assignment_id, "on_scene")
    world.step(assignment_id, "cancelled")
    assert world.state.units[unit_id].status == "available"
    assert world.state.units[unit_id].active_assignment_id is None


def test_step_of_unknown_assignment_is_not_found(world: World) -> None:
    command = v.change_assignment_status("asg-ffffff", {"status": "acknowledged"})
    assert refusal(world, command, NotFound).field == "id"


# --- dispatch refusals ---------------------------------------------------


def test_dispatch_refused_when_unit_has_active_assignment(world: World, dispatched: tuple[str, str]) -> None:
    unit_id, first = dispatched
    world.step(first, "en_route")
    command = v.dispatch_assignment({"unit_id": unit_id, "kind": "observe", "incident_id": world.incident()})
    assert refusal(world, command, Conflict).field == "unit_id"
    assert world.state.units[unit_id].active_assignment_id == first


def test_dispatch_refused_when_unit_out_of_service(world: World) -> None:
    unit_id = world.unit()
    world.run(v.update_unit(unit_id, {"status": "out_of_service"}))
    assert world.state.units[unit_id].status == "out_of_service"
    command = v.dispatch_assignment(
        {"unit_id": unit_id, "kind": "observe", "demonstration_id": world.demonstration()}
    )
    assert refusal(world, command, Conflict).field == "unit_id"


@pytest.mark.parametrize("field", ["unit_id", "incident_id", "demonstration_id"])
def test_dispatch_to_unknown_entity_is_a_validation_error_naming_field(world: World, field: str) -> None:
    ids = {
        "unit_id": world.unit(),
        "incident_id": world.incident(),
        "demonstration_id": world.demonstration(),
    }
    ids[field] = {"unit_id": "unit-ffffff", "incident_id": "inc-ffffff", "demonstration_id": "dem-ffffff"}[
        field
    ]
    target = "demonstration_id" if field == "demonstration_id" else "incident_id"
    body = {"unit_id": ids["unit_id"], "kind": "observe", target: ids[target]}
    assert refusal(world, v.dispatch_assignment(body), ValidationError).field == field


def test_dispatch_to_resolved_incident_is_a_conflict(world: World) -> None:
    unit_id = world.unit()
    incident_id = world.incident()
    world.run(v.update_incident(incident_id, {"status": "resolved"}))
    command = v.dispatch_assignment({"unit_id": unit_id, "kind": "observe", "incident_id": incident_id})
    assert refusal(world, command, Conflict).field == "incident_id"


def test_dispatch_to_ended_demonstration_is_a_conflict(world: World) -> None:
    unit_id = world.unit()
    demo_id = world.demonstration(status="active")
    world.run(v.update_demonstration(demo_id, {"status": "ended"}))
    command = v.dispatch_assignment({"unit_id": unit_id, "kind": "observe", "demonstration_id": demo_id})
    assert refusal(world, command, Conflict).field == "demonstration_id"


def test_dispatch_to_dispersing_demonstration_is_allowed(world: World) -> None:
    unit_id = world.unit()
    demo_id = world.demonstration(status="dispersing")
    assert (
        world.state.assignments[world.dispatch(unit_id, demonstration_id=demo_id)].demonstration_id == demo_id
    )


# --- units ---------------------------------------------------------------


def test_out_of_service_with_active_assignment_is_a_conflict(
    world: World, dispatched: tuple[str, str]
) -> None:
    unit_id, _ = dispatched
    assert refusal(world, v.update_unit(unit_id, {"status": "out_of_service"}), Conflict).field == "status"
    assert world.state.units[unit_id].out_of_service is False


def test_out_of_service_and_back_to_available(world: World) -> None:
    unit_id = world.unit()
    world.run(v.update_unit(unit_id, {"status": "out_of_service"}))
    unit = world.state.units[unit_id]
    assert (unit.status, unit.out_of_service) == ("out_of_service", True)
    world.run(v.update_unit(unit_id, {"status": "available"}))
    assert (unit.status, unit.out_of_service) == ("available", False)


def test_registered_unit_is_available_and_findable_by_token(world: World) -> None:
    events = world.new_events(
        v.register_unit(
            {"callsign": "DE-1", "kind": "deescalation_team", "skills": ["lang:es"]}, token_sha256="ab" * 32
        )
    )
    unit = world.state.units[events[0].payload["id"]]
    assert (unit.callsign, unit.kind, unit.skills, unit.status) == (
        "DE-1",
        "deescalation_team",
        ["lang:es"],
        "available",
    )
    assert world.state.unit_tokens["ab" * 32] == unit.id
    assert "token_sha256" not in unit.view()


def test_update_of_unknown_entities_is_not_found(world: World) -> None:
    for command in (
        v.update_unit("unit-ffffff", {"callsign": "X"}),
        v.update_incident("inc-ffffff", {"severity": 2}),
        v.update_demonstration("dem-ffffff", {"tension": 2}),
    ):
        assert refusal(world, command, NotFound).field == "id"


def test_triage_on_non_injury_incident_is_refused(world: World) -> None:
    incident_id = world.incident(kind="escalation")
    assert (
        refusal(world, v.update_incident(incident_id, {"triage": "minor"}), ValidationError).field == "triage"
    )


def test_report_incident_for_unknown_demonstration_is_refused(world: World) -> None:
    command = v.report_incident({"kind": "other", "lat": 0, "lon": 0, "demonstration_id": "dem-ffffff"})
    assert refusal(world, command, ValidationError).field == "demonstration_id"


# --- unchanged updates ---------------------------------------------------


def test_unchanged_patches_produce_no_events(world: World) -> None:
    demo_id = world.demonstration(tension=3, crowd_estimate=500)
    unit_id = world.unit(callsign="MED-7")
    incident_id = world.incident(kind="injury", triage="delayed", severity=4)
    before = copy.deepcopy(world.state)
    for command in (
        v.update_demonstration(demo_id, {"tension": 3, "crowd_estimate": 500, "name": " March "}),
        v.update_demonstration(demo_id, {"area": None, "status": "planned"}),
        v.update_unit(unit_id, {"callsign": "MED-7", "skills": []}),
        v.update_unit(unit_id, {"status": "available"}),
        v.update_incident(incident_id, {"severity": 4, "triage": "delayed", "status": "open"}),
    ):
        decision = world.run(command)
        assert decision.events == []
        assert decision.entity_id is not None
    assert world.state == before


def test_partial_patch_only_records_fields_that_changed(world: World) -> None:
    demo_id = world.demonstration(tension=2)
    events = world.new_events(v.update_demonstration(demo_id, {"tension": 2, "crowd_estimate": 900}))
    assert events[0].payload == {"id": demo_id, "changes": {"crowd_estimate": 900}}
    demo = world.state.demonstrations[demo_id]
    assert (demo.tension, demo.crowd_estimate, demo.updated_at) == (2, 900, events[0].at)
    assert demo.created_at != demo.updated_at


def test_repeated_out_of_service_produces_no_events(world: World) -> None:
    unit_id = world.unit()
    world.run(v.update_unit(unit_id, {"status": "out_of_service"}))
    assert world.run(v.update_unit(unit_id, {"status": "out_of_service"})).events == []


# --- folding -------------------------------------------------------------


def scenario(world: World) -> None:
    """A small operation that produces every kind of event."""
    demo_id = world.demonstration(status="active")
    medic = world.unit("MED-1", "medical_team")
    team = world.unit("DE-1", "deescalation_team")
    spare = world.unit("SUP-1", "field_supervisor")
    injury = world.incident(kind="injury", triage="immediate", demonstration_id=demo_id)
    world.run(v.update_demonstration(demo_id, {"tension": 4, "federal_presence": True}))
    world.run(v.update_incident(injury, {"severity": 5}))
    first = world.dispatch(medic, incident_id=injury)
    for step in ASSIGNMENT_FLOW[1:]:
        world.step(first, step)
    second = world.dispatch(team, demonstration_id=demo_id)
    world.step(second, "declined", reason="outnumbered")
    third = world.dispatch(team, demonstration_id=demo_id)
    world.step(third, "cancelled")
    world.run(v.update_unit(spare, {"status": "out_of_service", "callsign": "SUP-2"}))
    world.run(v.update_incident(injury, {"status": "resolved"}))
    world.run(c.CreateUser(name="ops", role="operator", password_hash="argon2$x"))
    world.run(c.CreateApiToken(name="bridge", role="supervisor", token_sha256="cd" * 32))


def test_fold_of_the_same_events_twice_gives_the_same_state(world: World) -> None:
    scenario(world)
    assert fold(world.log) == world.state
    assert fold(world.log) == fold(world.log)
    assert fold(list(world.log)).seq == len(world.log)


def test_fold_onto_an_up_to_date_state_changes_nothing(world: World) -> None:
    scenario(world)
    state = fold(world.log)
    snapshot = copy.deepcopy(state)
    assert fold(world.log, state) is state
    assert state == snapshot


def test_apply_skips_events_at_or_below_the_state_seq(world: World) -> None:
    scenario(world)
    state = fold(world.log)
    snapshot = copy.deepcopy(state)
    for event in world.log:
        assert apply(state, event) == []
    altered = dataclasses.replace(world.log[0], payload={**world.log[0].payload, "name": "Rewritten"})
    assert apply(state, altered) == []
    assert state == snapshot


def test_fold_in_two_halves_equals_fold_of_all(world: World) -> None:
    scenario(world)
    half = len(world.log) // 2
    assert fold(world.log[half:], fold(world.log[:half])) == fold(world.log)


def test_apply_skips_unknown_event_types_but_advances_seq() -> None:
    state = State()
    assert apply(state, StoredEvent(1, iso(START), "ops", "SomethingFromTheFuture", {"id": "x"})) == []
    assert state.seq == 1
    assert state == State(seq=1)


def test_touched_by_equals_what_apply_returned_for_every_event_type(world: World) -> None:
    scenario(world)
    known = {
        ev.DEMONSTRATION_CREATED,
        ev.DEMONSTRATION_UPDATED,
        ev.UNIT_REGISTERED,
        ev.UNIT_UPDATED,
        ev.INCIDENT_REPORTED,
        ev.INCIDENT_UPDATED,
        ev.ASSIGNMENT_DISPATCHED,
        ev.USER_CREATED,
        ev.API_TOKEN_CREATED,
        *ev.ASSIGNMENT_STEP_EVENTS.values(),
    }
    assert {e.type for e in world.log} == known
    for event, touched in zip(world.log, world.touched, strict=True):
        assert touched_by(event) == touched, event.type
    assert any(touched for touched in world.touched)


def test_projection_of_scenario_matches_expectations(world: World) -> None:
    scenario(world)
    state = world.state
    (demo,) = state.demonstrations.values()
    assert (demo.tension, demo.federal_presence, demo.status) == (4, True, "active")
    assert demo.view()["tension_label"] == "volatile"
    (incident,) = state.incidents.values()
    assert (incident.severity, incident.status, incident.triage) == (5, "resolved", "immediate")
    units = {u.callsign: u for u in state.units.values()}
    assert {name: u.status for name, u in units.items()} == {
        "MED-1": "available",
        "DE-1": "available",
        "SUP-2": "out_of_service",
    }
    statuses = sorted(a.status for a in state.assignments.values())
    assert statuses == ["cancelled", "completed", "declined"]
    assert state.users["ops"].secret_hash == "argon2$x"
    assert state.api_tokens["cd" * 32].name == "bridge"


# --- privacy -------------------------------------------------------------

IDENTITY_WORDS = ("name", "patient", "person", "phone", "email", "dob", "birth", "address")


def _identity_fields(cls: type, allowed: frozenset[str] = frozenset()) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in allowed and any(word in f.name.lower() for word in IDENTITY_WORDS)
    ]


def test_incident_has_no_field_for_a_persons_identity() -> None:
    assert _identity_fields(Incident) == []


def test_assignment_has_no_field_for_a_persons_identity() -> None:
    assert _identity_fields(Assignment) == []


def test_other_entities_have_no_field_for_a_persons_identity() -> None:
    assert _identity_fields(Unit) == []
    # A demonstration's name is the event's name, not a person's.
    assert _identity_fields(Demonstration, frozenset({"name"})) == []


def test_incident_commands_and_events_carry_no_identity_fields(world: World) -> None:
    assert _identity_fields(c.ReportIncident) == []
    assert _identity_fields(c.DispatchAssignment) == []
    world.incident(kind="injury", triage="minor")
    payload_keys = world.log[-1].payload.keys()
    assert [k for k in payload_keys if any(w in k for w in IDENTITY_WORDS)] == []
