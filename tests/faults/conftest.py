"""The fault suite's session: one stack of real processes (tests/faults/stack.py) shared by every
scenario, each scenario on projects of its own. Started only when a fault test is collected."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import pytest

from tests.faults import summary
from tests.faults.stack import LOGS, FaultStack
from tests.faults.world import seed_world


@pytest.fixture(scope="session")
def fault_stack():
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="tt-faults-") as d:
        stack = FaultStack(Path(d))
        try:
            asyncio.run(stack.start())
            stack.world = asyncio.run(seed_world(stack))
            yield stack
        finally:
            stack.stop()
            summary.write(LOGS, started)
