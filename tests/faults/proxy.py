"""A TCP proxy on loopback that can blackhole a NATS node's cluster routes: the partition of the
fault suite's 3-node cluster (tests/faults/cluster.py).

Every route between two nodes goes through one link of this proxy, one link per ordered pair
(node i dialing node j), so cutting a node means cutting every link that has it at either end.
A cut is a blackhole, not a reset: bytes on open connections stop moving in both directions and
new connections are accepted and then left silent, so the nodes find out the way they would on a
real network, by their pings going unanswered. Healing closes the connections that were held
(both ends gave up on them by then) and lets new ones through.

It runs as its own process (`python -m tests.faults.proxy i:j:listen:target ...`) so that the test
process's load generator cannot starve it of the GIL. Control is one line on stdin, answered with
"ok" on stdout: `cut <node>` or `heal`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass, field


@dataclass(eq=False)
class Held:
    """One accepted connection and, unless it arrived during a cut, its upstream half."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    pumps: list[asyncio.Task] = field(default_factory=list)

    def freeze(self) -> None:
        for t in self.pumps:
            t.cancel()

    def close(self) -> None:
        self.freeze()
        for w in (self.client, self.upstream):
            if w is not None:
                w.transport.abort()


@dataclass(eq=False)
class Link:
    ends: tuple[int, int]
    target: int
    cut: bool = False
    conns: set[Held] = field(default_factory=set)

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held = Held(writer)
        self.conns.add(held)
        if self.cut:
            return  # accepted and left silent until the heal closes it
        try:
            up_reader, held.upstream = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            self.drop(held)
            return
        if self.cut:  # cut while dialing
            return
        held.pumps = [asyncio.create_task(self.pump(reader, held.upstream, held)),
                      asyncio.create_task(self.pump(up_reader, writer, held))]

    async def pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, held: Held) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        self.drop(held)  # either side closed: close both, as a plain TCP path would

    def drop(self, held: Held) -> None:
        self.conns.discard(held)
        held.close()

    def set_cut(self, cut: bool) -> None:
        if cut == self.cut:
            return
        self.cut = cut
        for held in list(self.conns):
            if cut:
                held.freeze()  # nothing moves any more, in either direction
            else:
                self.drop(held)


async def main(specs: list[str]) -> None:
    links: list[Link] = []
    for spec in specs:
        i, j, listen, target = (int(x) for x in spec.split(":"))
        link = Link((i, j), target)
        await asyncio.start_server(link.accept, "127.0.0.1", listen)
        links.append(link)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("ready", flush=True)
    while line := (await reader.readline()).decode().split():
        if line[0] == "cut":
            node = int(line[1])
            for link in links:
                if node in link.ends:
                    link.set_cut(True)
        elif line[0] == "heal":
            for link in links:
                link.set_cut(False)
        print("ok", flush=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(sys.argv[1:]))
