"""free_port under pytest-xdist: each worker hands out ports from its own slice, which neither another worker nor
the kernel (bind to port 0, outgoing connections) hands out, so a port picked now and bound seconds later is still
free then."""

from __future__ import annotations

import itertools
import socket

import pytest

from tests.support import servers
from tests.support.loopback import LOOPBACK
from tests.support.servers import WORKER_PORTS, free_port, worker_port_cycle

EPHEMERAL = range(32768, 61000)


def first_ports(worker: str, count: str, how_many: int) -> list[int]:
    return list(itertools.islice(worker_port_cycle(worker, count, EPHEMERAL), how_many))


def test_three_workers_hand_out_disjoint_ports_below_the_kernels_range() -> None:
    slices = [set(first_ports(f"gw{n}", "3", len(WORKER_PORTS))) for n in range(3)]

    assert all(ports <= set(WORKER_PORTS) for ports in slices)
    assert not (slices[0] & slices[1] or slices[0] & slices[2] or slices[1] & slices[2])
    assert sum(len(ports) for ports in slices) == len(WORKER_PORTS) // 3 * 3


def test_a_worker_repeats_a_port_only_after_its_whole_slice() -> None:
    size = len(WORKER_PORTS) // 4
    ports = first_ports("gw2", "4", size + 1)

    assert len(set(ports[:size])) == size and ports[size] == ports[0]


@pytest.mark.parametrize(("worker", "count", "ephemeral"), [
    ("", "", EPHEMERAL),  # not under xdist
    ("gw0", "2", range(1024, 65536)),  # the kernel's own range covers the slices
])
def test_outside_xdist_or_without_room_below_the_kernels_range_the_kernel_chooses(worker: str, count: str,
                                                                                   ephemeral: range) -> None:
    assert list(worker_port_cycle(worker, count, ephemeral)) == []


def test_a_port_something_listens_on_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.create_server((LOOPBACK, 0)) as taken, socket.create_server((LOOPBACK, 0)) as closed_next:
        busy, free = taken.getsockname()[1], closed_next.getsockname()[1]
        closed_next.close()
        monkeypatch.setattr(servers, "_worker_ports", iter([busy, free]))

        assert free_port() == free
