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


class CountingLM(torch.nn.Module):
    """Always predicts the last token + 1."""

    config = GPTConfig(vocab_size=23, block_size=32, n_layer=1, n_head=1, n_embd=4)

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx, position_ids=None, segment_ids=None):
        return torch.nn.functional.one_hot((idx + 1) % 23, 23).float() * 10, None


def test_rows_end_at_eos_and_a_row_without_eos_is_truncated_and_flagged():
    prompts = [np.array([3, 10]), np.array([3, 4, 5])]
    out = generate(CountingLM(), prompts, max_new_tokens=5, eos_id=12, pad_id=1, temperature=0)
    # row 0: 11, 12 (eos), then padding; row 1: 6..10, no eos within 5 tokens
    assert out.responses.tolist() == [[11, 12, 1, 1, 1], [6, 7, 8, 9, 10]]
    assert out.response_mask.tolist() == [[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]
    assert out.truncated.tolist() == [False, True]
    assert out.tokens[0, :3].tolist() == [1, 3, 10]  # left-padded prompt
    assert out.position_ids[0, :4].tolist() == [0, 0, 1, 2] and out.segment_ids[0, :2].tolist() == [0, 1]
