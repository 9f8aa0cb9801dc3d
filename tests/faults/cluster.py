"""A 3-node NATS cluster on loopback for the fault suite: nats-server from the wheel, JetStream on
every node with a store of its own, streams replicated three times (the services get
NATS_STREAM_REPLICAS=3 and all three client URLs).

Routes between nodes never go direct: node i reaches node j through link (i, j) of one proxy
process (tests/faults/proxy.py), so `partition(k)` can blackhole every route of node k while k
itself keeps running and keeps its clients. Each node advertises a cluster address nothing
listens on, so route gossip cannot open a direct connection around the proxy after a heal.
Ports are chosen once and kept: a killed node comes back on the same ports and store.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.devstack import free_ports, nats_binary, wait_for_port
from shared.settings import REPO_ROOT


@dataclass
class Node:
    index: int
    client_port: int
    cluster_port: int
    http_port: int
    store: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class NatsCluster:
    work: Path
    logs: Path  # nats-<i>.log, kept after the temporary folder is gone
    size: int = 3
    nodes: list[Node] = field(default_factory=list)
    links: dict[tuple[int, int], int] = field(default_factory=dict)  # (from, to) → proxy port
    _advertised: dict[int, int] = field(default_factory=dict)  # node → a port nothing listens on (gossip)
    proxy: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        """What NATS_URL holds: every node, comma-separated."""
        return ",".join(n.url for n in self.nodes)

    def start(self, attempts: int = 3) -> NatsCluster:
        """Start the proxy and the nodes. A port free_ports() handed out can be taken before the node
        binds it (an outgoing connection's ephemeral port: "bind: address already in use" in
        nats-<i>.log); then everything stops and starts again on fresh ports."""
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once()
            except RuntimeError:  # a node exited before opening its port
                self.stop()
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> NatsCluster:
        pairs = [(i, j) for i in range(self.size) for j in range(self.size) if i != j]
        # Every port of this start distinct (node: client, cluster, http, advertised; a proxy link per pair).
        ports = iter(free_ports(4 * self.size + len(pairs)))
        self.nodes = [Node(i, next(ports), next(ports), next(ports), self.work / f"nats-{i}")
                      for i in range(self.size)]
        self._advertised = {node.index: next(ports) for node in self.nodes}
        self.links = {pair: next(ports) for pair in pairs}
        self.proxy = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.proxy",
             *(f"{i}:{j}:{port}:{self.nodes[j].cluster_port}" for (i, j), port in self.links.items())],
            cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proxy.stdout is not None and self.proxy.stdout.readline().strip() == "ready"
        for node in self.nodes:
            self._write_config(node)
        for node in self.nodes:
            self.start_node(node.index, wait=False)
        self.wait_healthy()
        return self

    def _write_config(self, node: Node) -> None:
        node.store.mkdir(parents=True, exist_ok=True)
        routes = ", ".join(f'"nats-route://127.0.0.1:{self.links[(node.index, j)]}"'
                           for j in range(self.size) if j != node.index)
        # Pings every second, three unanswered and the link is dead: a blackholed route is noticed
        # in seconds, not the default minutes. Gossip is pointed at a port nothing listens on.
        (node.store / "nats.conf").write_text(f"""
server_name: n{node.index}
listen: "127.0.0.1:{node.client_port}"
http: "127.0.0.1:{node.http_port}"
ping_interval: "1s"
ping_max: 3
jetstream {{ store_dir: "{node.store / 'js'}" }}
cluster {{
  name: faults
  listen: "127.0.0.1:{node.cluster_port}"
  advertise: "127.0.0.1:{self._advertised[node.index]}"
  routes: [{routes}]
}}
""")

    def start_node(self, index: int, wait: bool = True) -> None:
        node = self.nodes[index]
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"nats-{index}.log", "ab") as log:
            node.process = subprocess.Popen([nats_binary(), "-c", str(node.store / "nats.conf")],
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port("127.0.0.1", node.client_port, 15, node.process)
        if wait:
            self.wait_healthy()

    def kill(self, index: int) -> None:
        """kill -9 of one node: no shutdown, no flush of its store."""
        node = self.nodes[index]
        assert node.process is not None
        node.process.send_signal(signal.SIGKILL)
        node.process.wait()

    def stop_node(self, index: int) -> None:
        node = self.nodes[index]
        if node.alive:
            assert node.process is not None
            node.process.terminate()
            try:
                node.process.wait(15)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()

    def stop_all(self) -> None:
        for node in self.nodes:
            self.stop_node(node.index)

    def start_all(self) -> None:
        for node in self.nodes:
            self.start_node(node.index, wait=False)
        self.wait_healthy()

    def _control(self, line: str) -> None:
        assert self.proxy is not None and self.proxy.stdin is not None and self.proxy.stdout is not None
        self.proxy.stdin.write(line + "\n")
        self.proxy.stdin.flush()
        assert self.proxy.stdout.readline().strip() == "ok"

    def partition(self, index: int) -> None:
        self._control(f"cut {index}")

    def heal(self) -> None:
        self._control("heal")

    def healthy(self, index: int) -> bool:
        """The node's /healthz: up, JetStream enabled and current with the meta leader."""
        try:
            return httpx.get(f"http://127.0.0.1:{self.nodes[index].http_port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def routes(self, index: int) -> int:
        """How many route connections the node holds (its /routez): 0 once a partition has
        taken hold, whatever the node's process still believes about its peers."""
        r = httpx.get(f"http://127.0.0.1:{self.nodes[index].http_port}/routez", timeout=2)
        return int(r.json()["num_routes"])

    def wait_healthy(self, timeout: float = 120) -> float:
        started = time.monotonic()
        while not all(self.healthy(n.index) for n in self.nodes):
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"NATS cluster not healthy within {timeout}s; see {self.logs}/nats-*.log")
            time.sleep(0.2)
        return time.monotonic() - started

    def stop(self) -> None:
        self.stop_all()
        if self.proxy is not None and self.proxy.poll() is None:
            self.proxy.terminate()
            self.proxy.wait(10)
