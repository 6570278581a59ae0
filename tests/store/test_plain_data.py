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
