"""Plain data checked against annotations: the one-pass path for long sequences (a trajectory's token offsets)
refuses what a trajectory must not hold, as the item-by-item path and the trajectory's own checks do."""

import pytest

from generator.store.records import RecordFormatError, Trajectory
from tests.store.test_run_directory import TRAJECTORY


@pytest.mark.parametrize("offsets, accepted", [
    ([[0, 0], [0, 1], [1, 2]], True),
    ([[0, 0], [0, 1], [1, True]], False),  # a bool is not an int here
    ([[0, 0], [0, 1.0], [1, 2]], False),
    ([[0, 0], [0, 1, 2], [1, 2]], False),
    ([[0, 0], "01", [1, 2]], False),
    ([[0, 0], [0], [1, 2]], False),
])
def test_token_offsets_are_pairs_of_ints(offsets, accepted):
    data = {**TRAJECTORY.to_json(), "token_offsets": offsets}
    if accepted:
        assert Trajectory.from_json(data, "t.json").token_offsets == ((0, 0), (0, 1), (1, 2))
    else:
        with pytest.raises(RecordFormatError, match="token_offsets"):
            Trajectory.from_json(data, "t.json")


def test_trajectories_read_share_their_tokens_and_offset_pairs():
    """A dataset page holds every trajectory of its dataset: the tokens and offset pairs that recur from one
    example to the next are one object each (the same values as read)."""
    import json

    from generator.store import plain_data

    texts = [json.dumps({**TRAJECTORY.to_json(), "example_id": f"e{i}"}) for i in range(2)]  # two reads of JSON
    first, second = (Trajectory.from_json(json.loads(text), "t.json") for text in texts)
    assert first.tokens == TRAJECTORY.tokens and first.token_offsets == TRAJECTORY.token_offsets
    assert all(a is b for a, b in zip(first.tokens, second.tokens))
    assert all(a is b for a, b in zip(first.token_offsets, second.token_offsets))
    plain_data._PAIRS_KEPT, kept = 2, plain_data._PAIRS_KEPT
    try:  # past its bound the table is begun again: the pairs are still right
        plain_data._PAIRS.clear()
        third = Trajectory.from_json(json.loads(texts[0]), "t.json")
        assert third.token_offsets == TRAJECTORY.token_offsets and len(plain_data._PAIRS) <= 2
    finally:
        plain_data._PAIRS_KEPT = kept
