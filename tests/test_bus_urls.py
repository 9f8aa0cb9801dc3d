"""NATS_URL may name every node of a cluster, comma-separated: the connection goes to whichever
answers (the fault suite's 3-node cluster relies on it, tests/faults/cluster.py)."""

from __future__ import annotations

from shared.bus import Bus
from shared.devstack import free_port


async def test_a_comma_separated_nats_url_connects_to_the_node_that_answers(nats_url: str):
    dead = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    bus = Bus(f"{dead}, {nats_url}", "test-urls")
    bus.start()
    try:
        assert await bus.wait_connected(timeout=15)
        assert bus.nc is not None and bus.nc.connected_url is not None
        assert bus.nc.connected_url.port == int(nats_url.rsplit(":", 1)[1])
        assert len(bus.nc.servers) >= 2  # both URLs in the pool, not one unparsable string
    finally:
        await bus.close()
