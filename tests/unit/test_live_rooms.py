"""The indexed room manager behaves as python-socketio's own, operation for operation."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import socketio
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.live.rooms import LocalManager

NS = "/"


def manager(cls: type) -> Any:
    ids = itertools.count()
    server = SimpleNamespace(
        eio=SimpleNamespace(generate_id=lambda: f"sid{next(ids)}"),
        packet_class=socketio.packet.Packet,
        logger=None,
    )
    m = cls()
    m.set_server(server)
    return m


def state(m: Any) -> dict[str, Any]:
    rooms = {ns: {room: dict(sids) for room, sids in by_room.items()} for ns, by_room in m.rooms.items()}
    return {
        "rooms": rooms,
        "callbacks": sorted(m.callbacks),
        "pending_connect": m.pending_connect,
        "pending_disconnect": m.pending_disconnect,
    }


operation = st.one_of(
    st.tuples(st.just("connect"), st.integers(0, 5)),
    st.tuples(st.just("enter"), st.integers(0, 5), st.sampled_from(["dashboards", "unit:a", "unit:b"])),
    st.tuples(st.just("leave"), st.integers(0, 5), st.sampled_from(["dashboards", "unit:a", "unit:b"])),
    st.tuples(st.just("close"), st.sampled_from(["dashboards", "unit:a"])),
    st.tuples(st.just("ack"), st.integers(0, 5)),
    st.tuples(st.just("disconnect"), st.integers(0, 5)),
)


def apply(m: Any, op: tuple[Any, ...], sids: list[str]) -> None:
    kind = op[0]
    if kind == "connect":
        sid = m.connect(f"eio{op[1]}", NS)
        if sid is not None:
            sids.append(sid)
        return
    if kind == "close":
        m.close_room(op[1], NS)
        return
    if not sids:
        return
    sid = sids[op[1] % len(sids)]
    if kind == "enter" and m.is_connected(sid, NS):
        m.enter_room(sid, NS, op[2])
    elif kind == "leave":
        m.leave_room(sid, NS, op[2])
    elif kind == "ack" and m.is_connected(sid, NS):
        m._generate_ack_id(sid, lambda *_a: None)
    elif kind == "disconnect" and m.is_connected(sid, NS):
        m.pre_disconnect(sid, NS)
        m.disconnect(sid, NS)
        sids.remove(sid)


@settings(max_examples=300)
@given(st.lists(operation, max_size=40))
def test_every_sequence_of_room_operations_leaves_the_same_state_as_the_stock_manager(ops):
    stock, ours = manager(socketio.Manager), manager(LocalManager)
    stock_sids: list[str] = []
    our_sids: list[str] = []
    for op in ops:
        apply(stock, op, stock_sids)
        apply(ours, op, our_sids)
        assert state(ours) == state(stock), op


def test_a_disconnect_forgets_the_clients_index_entry():
    m = manager(LocalManager)
    sid = m.connect("eio1", NS)
    m.enter_room(sid, NS, "unit:a")
    m.pre_disconnect(sid, NS)
    m.disconnect(sid, NS)
    assert m._rooms_of == {}
    assert m.rooms == {}
