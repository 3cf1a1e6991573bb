"""The packed-shard loader: zero-copy, deterministic, rank-sharded, resumable, blendable."""

import json

import numpy as np
import pyarrow as pa
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny models: extra threads only contend for the shared cores
pytest.importorskip("tokenizers")

from pretrain_fixtures import write_pretrain_pack  # noqa: E402

from corpusforge.train.data import BatchLoader, PackedDataset  # noqa: E402
from corpusforge.train.errors import DataError  # noqa: E402


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    return write_pretrain_pack(tmp_path_factory.mktemp("pack"), seq_len=16, train_docs=300)


@pytest.fixture(scope="module")
def other_pack(tmp_path_factory):
    return write_pretrain_pack(tmp_path_factory.mktemp("other"), seq_len=16, train_docs=120, seed=5)


def _rows_of(batch) -> list[tuple]:
    full = torch.cat([batch["input_ids"], batch["targets"][:, -1:]], dim=1)
    return [tuple(r) for r in full.tolist()]


def test_rows_are_memory_mapped_views(pack):
    data = PackedDataset(str(pack))
    assert len(data) == json.loads((pack / "index.json").read_text())["splits"]["train"]["rows"]
    assert len(data._tokens) > 2  # several record batches in several files
    for view in data._tokens:
        assert not view.flags.owndata and view.dtype == np.uint16
    table = pa.ipc.open_file(str(pack / "train/part-00000.arrow")).read_all()
    tokens, doc_lens, _ = data.rows(np.array([0, 3]))
    assert tokens[1].tolist() == table.column("tokens")[3].as_py()
    assert doc_lens[1].tolist() == table.column("doc_lens")[3].as_py()


def test_batch_positions_follow_doc_lens(pack):
    data = PackedDataset(str(pack))
    batch = BatchLoader([data], 4, shuffle=False).next_batch()
    lens = data.rows(np.array([0]))[1][0]
    starts = np.cumsum(lens) - lens
    expected = np.arange(16) - np.repeat(starts, lens)[:16]
    assert batch["position_ids"][0].tolist() == expected.tolist()
    assert (batch["targets"][:, :-1] == batch["input_ids"][:, 1:]).all()


def test_epoch_shuffle_is_deterministic_and_covers_every_row(pack):
    data = PackedDataset(str(pack))
    n = len(data)
    a, b = BatchLoader([data], 1, seed=7), BatchLoader([data], 1, seed=7)
    first_epoch = [_rows_of(a.next_batch())[0] for _ in range(n)]
    assert first_epoch == [_rows_of(b.next_batch())[0] for _ in range(n)]
    everything = sorted(_rows_of(BatchLoader([data], n, shuffle=False).next_batch()))
    assert sorted(first_epoch) == everything
    second_epoch = [_rows_of(a.next_batch())[0] for _ in range(n)]
    assert second_epoch != first_epoch and sorted(second_epoch) == everything
    assert [_rows_of(BatchLoader([data], 1, seed=8).next_batch())[0] for _ in range(3)] != first_epoch[:3]


def test_ranks_take_disjoint_slices_of_the_global_batch(pack):
    data = PackedDataset(str(pack))
    single = BatchLoader([data], 8, seed=3)
    ranks = [BatchLoader([data], 4, seed=3, rank=r, world_size=2) for r in range(2)]
    for _ in range(5):
        whole = _rows_of(single.next_batch())
        assert _rows_of(ranks[0].next_batch()) + _rows_of(ranks[1].next_batch()) == whole


def test_state_dict_resumes_at_the_next_batch(pack, other_pack):
    sets = [PackedDataset(str(pack)), PackedDataset(str(other_pack))]
    loader = BatchLoader(sets, 5, seed=1, weights=[2, 1])
    for _ in range(30):  # past the end of an epoch of the smaller set
        loader.next_batch()
    state = json.loads(json.dumps(loader.state_dict()))
    expected = [_rows_of(loader.next_batch()) for _ in range(4)]
    resumed = BatchLoader(sets, 5, seed=1, weights=[2, 1])
    resumed.load_state_dict(state)
    assert [_rows_of(resumed.next_batch()) for _ in range(4)] == expected
    with pytest.raises(DataError, match="changed since the checkpoint"):
        BatchLoader(sets[:1], 5).load_state_dict(state | {"sizes": [1]})


def test_blend_follows_its_weights(pack, other_pack):
    sets = [PackedDataset(str(pack)), PackedDataset(str(other_pack))]
    own = {r for r in _rows_of(BatchLoader(sets[1:], len(sets[1]), shuffle=False).next_batch())}
    loader = BatchLoader(sets, 8, seed=0, weights=[3, 1])
    rows = [r for _ in range(10) for r in _rows_of(loader.next_batch())]
    assert sum(r in own for r in rows) == 20  # exactly a quarter


def test_bad_packs_are_clear_errors(tmp_path, pack):
    with pytest.raises(DataError, match="no index.json"):
        PackedDataset(str(tmp_path))
    with pytest.raises(DataError, match="no split 'test'"):
        PackedDataset(str(pack), "test")
    index = json.loads((pack / "index.json").read_text())
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("train",):
        (bad / name).symlink_to(pack / name)
    (bad / "index.json").write_text(json.dumps(index | {"seq_len": 20}))
    with pytest.raises(DataError, match=r"fixed_size_list\[21\]"):
        PackedDataset(str(bad))
    (bad / "index.json").write_text(json.dumps(index | {"kind": "preference"}))
    with pytest.raises(DataError, match="no token rows"):
        PackedDataset(str(bad))
