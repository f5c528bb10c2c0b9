from __future__ import annotations

from eligo import Protocol


def test_bundled_protocol_has_all_items(nct01224327: Protocol) -> None:
    assert [c.id for c in nct01224327.inclusion] == ["I1", "I2", "I3"]
    assert [c.id for c in nct01224327.exclusion] == [f"E{i}" for i in range(1, 9)]
