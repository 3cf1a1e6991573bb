"""The GPT model: document masking, tied weights, parameter groups, sampling, size."""

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny models: extra threads only contend for the shared cores

from corpusforge.train.model import GPT, GPTConfig, positions_from_doc_lens, sample_next  # noqa: E402

TINY = GPTConfig(vocab_size=50, block_size=24, n_layer=2, n_head=2, n_embd=16)


def tiny_model(seed=0, **changes) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY.to_dict(), **changes})).eval()


def test_document_mask_isolates_documents_and_restarts_positions():
    model = tiny_model()
    idx = torch.randint(0, 50, (1, 20))
    positions, segments = positions_from_doc_lens([[7, 13]], 20)
    assert positions[0].tolist() == list(range(7)) + list(range(13))
    assert segments[0].tolist() == [0] * 7 + [1] * 13
    packed, _ = model(idx, position_ids=positions, segment_ids=segments)
    first, _ = model(idx[:, :7])
    second, _ = model(idx[:, 7:])
    torch.testing.assert_close(packed[:, :7], first)
    torch.testing.assert_close(packed[:, 7:], second)
    unmasked, _ = model(idx)  # without the mask the second document sees the first
    assert not torch.allclose(unmasked[:, 7:], second, atol=1e-4)


def test_zero_length_segments_are_harmless():
    positions, segments = positions_from_doc_lens([[0, 5], [5, 0]], 5)
    assert positions.tolist() == [[0, 1, 2, 3, 4]] * 2
    model = tiny_model()
    idx = torch.randint(0, 50, (2, 5))
    masked, _ = model(idx, position_ids=positions, segment_ids=segments)
    plain, _ = model(idx)
    torch.testing.assert_close(masked, plain)
    with pytest.raises(ValueError, match="sum to 4"):
        positions_from_doc_lens([[2, 2]], 5)


def test_tied_weights_hidden_states_and_loss():
    model = tiny_model()
    assert model.lm_head.weight is model.transformer.wte.weight
    idx = torch.randint(0, 50, (2, 10))
    targets = idx.clone()
    targets[:, :4] = -1
    hidden = model.forward_hidden(idx)
    logits, loss = model(idx, targets)
    assert hidden.shape == (2, 10, 16)
    torch.testing.assert_close(model.lm_head(hidden), logits)
    _, summed = model(idx, targets, reduction="sum")
    torch.testing.assert_close(summed / 12, loss)
    expected = torch.nn.functional.cross_entropy(logits[:, 4:].reshape(-1, 50), idx[:, 4:].reshape(-1))
    torch.testing.assert_close(loss, expected)


def test_weight_decay_only_on_matrices():
    model = tiny_model()
    decay, no_decay = model.parameter_groups(0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() == 1 for p in no_decay["params"])
    assert sum(p.numel() for g in (decay, no_decay) for p in g["params"]) == model.num_params()


def test_gpt2_124m_size():
    with torch.device("meta"):
        model = GPT(GPTConfig())
    assert model.num_params() == 124_439_808  # GPT-2 small, as Hugging Face counts it
    assert model.flops_per_token(1024) == 6 * (124_439_808 - 1024 * 768) + 12 * 12 * 768 * 1024


def test_sampling_filters():
    logits = torch.tensor([[0.0, 3.0, 2.9, -1.0, 1.0]])
    generator = torch.Generator().manual_seed(0)
    assert sample_next(logits, temperature=0).item() == 1
    for _ in range(20):
        assert sample_next(logits, top_k=1, generator=generator).item() == 1
        assert sample_next(logits, top_k=2, generator=generator).item() in (1, 2)
        # top_p=0.5: token 1 alone has about 46% of the mass, so tokens 1 and 2 stay.
        assert sample_next(logits, top_p=0.5, generator=generator).item() in (1, 2)
        assert sample_next(logits, top_p=1e-6, generator=generator).item() == 1
    draws = {sample_next(logits, temperature=5.0, generator=generator).item() for _ in range(200)}
    assert draws == {0, 1, 2, 3, 4}


def test_generate_stops_at_eos_and_respects_block_size():
    model = tiny_model()
    idx = torch.randint(1, 50, (2, 30))  # longer than block_size: generation crops the context
    out = model.generate(idx, 5, temperature=1.0, generator=torch.Generator().manual_seed(1))
    assert out.shape == (2, 35)
    greedy = model.generate(idx[:, :3], 4, temperature=0)
    eos = int(greedy[0, 3])
    stopped = model.generate(idx[:, :3], 10, temperature=0, eos_id=eos)
    assert stopped[0, 3].item() == eos and stopped.shape[1] <= 13
    assert (stopped[0, 3:] == eos).all()
