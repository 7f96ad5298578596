"""The bounded map behind the catalog and explosion caches."""

from __future__ import annotations

import pytest

from edge.domain.lru import Lru


def test_past_its_capacity_it_forgets_the_least_recently_used() -> None:
    cache: Lru[str, int] = Lru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert len(cache) == 2
    assert "b" not in cache
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_a_put_replaces_and_refreshes_an_entry() -> None:
    cache: Lru[str, int] = Lru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.put("a", 10) == 10
    cache.put("c", 3)
    assert "b" not in cache
    assert cache.get("a") == 10


def test_a_capacity_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Lru[str, int](0)


def test_an_update_keeps_each_entry_in_order_and_forgets_past_capacity() -> None:
    cache: Lru[str, int] = Lru(3)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.update([("c", 3), ("a", 10), ("d", 4)])  # "a" refreshed; "b" the oldest now
    assert len(cache) == 3
    assert "b" not in cache
    assert (cache.get("a"), cache.get("c"), cache.get("d")) == (10, 3, 4)
    cache.update([])
    assert len(cache) == 3
