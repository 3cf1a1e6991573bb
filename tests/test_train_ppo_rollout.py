import numpy as np
import torch

from corpusforge.train.model import GPT, GPTConfig
from corpusforge.train.rollout import generate


def _model(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=23, block_size=32, n_layer=2, n_head=2, n_embd=32)).eval()


def test_left_padded_batch_generates_what_each_prompt_generates_alone():
    model = _model()
    prompts = [np.array([3, 5, 6, 7, 8, 4]), np.array([3, 9, 4]), np.array([3, 10, 11, 4])]
    batch = generate(model, prompts, max_new_tokens=6, eos_id=0, pad_id=1, temperature=0)
    for i, prompt in enumerate(prompts):
        alone = generate(model, [prompt], max_new_tokens=6, eos_id=0, pad_id=1, temperature=0)
        n = int(alone.response_lengths[0])
        assert torch.equal(batch.responses[i, :n], alone.responses[0, :n])
        assert int(batch.response_lengths[i]) == n
        # the same tokens, unpadded, through a plain forward give the same greedy choices
        full = torch.cat([torch.from_numpy(prompt), alone.responses[0, :n]]).unsqueeze(0)
        logits, _ = model(full)
        greedy = logits[0, len(prompt) - 1 : len(prompt) + n - 1].argmax(-1)
        assert torch.equal(greedy, alone.responses[0, :n])


def test_rows_end_at_eos_and_a_row_without_eos_is_truncated_and_flagged():
    model = _model(seed=1)
    prompts = [np.array([3, 10]), np.array([3, 5, 6, 4])]
    # eos_id=22 (never chosen greedily here): both rows run the full 6 tokens
    free = generate(model, prompts, max_new_tokens=6, eos_id=22, pad_id=1, temperature=0)
    assert free.truncated.tolist() == [True, True] and free.response_mask.sum(1).tolist() == [6.0, 6.0]
    row0, row1 = free.responses.tolist()
    # stop at a token row 0 emits and row 1 never does: row 0 ends there, row 1 is truncated
    j, eos = next((j, tok) for j, tok in enumerate(row0) if tok not in row1)
    out = generate(model, prompts, max_new_tokens=6, eos_id=eos, pad_id=1, temperature=0)
    assert out.responses[0, : j + 1].tolist() == row0[: j + 1] and (out.responses[0, j + 1 :] == 1).all()
    assert out.response_mask[0].tolist() == [1.0] * (j + 1) + [0.0] * (5 - j)
    assert out.truncated.tolist() == [False, True] and out.responses[1].tolist() == row1
    assert out.tokens[0, :3].tolist() == [1, 1, 3]  # left-padded prompt
    assert out.position_ids[0, :5].tolist() == [0, 1, 0, 1, 2] and out.segment_ids[0, :3].tolist() == [0, 0, 1]
