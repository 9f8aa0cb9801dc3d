"""Register a host institution (承办单位), or rename it (PUT /v1/hosts/{id}), by an admin of its
province; 201 the first time, 200 on a rename or an identical repeat. A host stays in the
province it was registered in: that province administers it."""

from __future__ import annotations

from services.enrollment.domain.orgs import Host, decide_register_host, evolve_host
from shared.aggregate import load_state
from shared.unit_of_work import Reply, UnitOfWork

from . import STORE
from .access import administers_host, require
from .register_org import load_org


async def handle(uow: UnitOfWork, wanted: Host) -> Reply:
    stream = f"host-{wanted.host_id}"
    state, version = await load_state(uow.conn, STORE, stream, evolve_host, None)
    if state is not None:
        require(administers_host(uow.principal, state.province_code), "this host belongs to another province")
    expected = uow.expect(stream, version)
    events = decide_register_host(state, wanted, await load_org(uow.conn, wanted.province_code))
    uow.record(stream, expected, events)
    now = version + len(events)
    body = {"host_id": wanted.host_id, "name": wanted.name, "province_code": wanted.province_code, "version": now}
    return Reply(201 if version == 0 else 200, body, {"ETag": f'"{now}"', "Location": f"/v1/hosts/{wanted.host_id}"})
