"""wait_readable: what the keyboard-wedge readers wait on, for descriptors past 1023 too."""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Iterator

import pytest

from hardware.reads import wait_readable

HIGH_FD = 1500


@pytest.fixture
def high_pipe() -> Iterator[tuple[int, int]]:
    """A pipe whose read end is descriptor 1500, beyond what select() accepts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= HIGH_FD:
        pytest.skip(f"the hard descriptor limit ({hard}) is below {HIGH_FD}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, HIGH_FD + 1), hard))
    read_end, write_end = os.pipe()
    os.dup2(read_end, HIGH_FD)
    os.close(read_end)
    try:
        yield HIGH_FD, write_end
    finally:
        for fd in (write_end, HIGH_FD):
            with contextlib.suppress(OSError):  # a test may have closed it
                os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_descriptor_past_1023_is_waited_on(high_pipe: tuple[int, int]) -> None:
    read_end, write_end = high_pipe
    assert not wait_readable(read_end, 0.0)
    os.write(write_end, b"x")
    assert wait_readable(read_end, 5.0)


def test_a_hang_up_counts_as_readable(high_pipe: tuple[int, int]) -> None:
    read_end, write_end = high_pipe
    assert not wait_readable(read_end, 0.0)
    os.close(write_end)
    assert wait_readable(read_end, 5.0)  # the writer is gone: the read that follows sees EOF
    assert os.read(read_end, 1) == b""


def test_a_closed_descriptor_raises() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    os.close(write_end)
    with pytest.raises(OSError, match="not open"):
        wait_readable(read_end, 0.0)
