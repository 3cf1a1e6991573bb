import math

import torch
from torch.testing import assert_close

from corpusforge.train.ppo_loss import (
    entropy_from_logits,
    gae,
    kl_penalized_rewards,
    masked_whiten,
    policy_loss,
    token_logprobs,
    value_loss,
)


def t(rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_kl_penalty_per_token_and_clipped_score_at_the_last_response_token():
    logp = t([[-1.0, -2.0, -0.5], [-1.0, -2.0, -0.5]])
    ref = t([[-1.5, -1.0, -0.5], [-1.5, -1.0, -0.5]])
    mask = t([[1, 1, 1], [1, 1, 0]])
    rewards, kl = kl_penalized_rewards(t([5.0, -0.5]), logp, ref, mask, kl_coef=0.1, clip_score=3.0)
    assert_close(kl, t([[0.5, -1.0, 0.0], [0.5, -1.0, 0.0]]))
    # row 0: score 5 clipped to 3 at t=2; row 1 ends at t=1 and its score is -0.5
    assert_close(rewards, t([[-0.05, 0.1, 3.0], [-0.05, 0.1 - 0.5, 0.0]]))


def test_gae_against_hand_computed_values():
    rewards = t([[1.0, 0.0, 2.0], [1.0, 2.0, 99.0]])
    values = t([[0.5, 1.0, 0.2], [0.5, 1.0, 99.0]])
    mask = t([[1, 1, 1], [1, 1, 0]])
    adv, ret = gae(rewards, values, mask, gamma=0.9, lam=0.8)
    # row 0: d2 = 2 - .2 = 1.8; d1 = .9*.2 - 1 = -.82, A1 = -.82 + .72*1.8; d0 = 1 + .9 - .5 = 1.4
    a1 = -0.82 + 0.72 * 1.8
    assert_close(adv[0], t([1.4 + 0.72 * a1, a1, 1.8]))
    # row 1 ends at t=1, whose next value is 0: d1 = 2 - 1 = 1, A0 = 1.4 + .72
    assert_close(adv[1], t([2.12, 1.0, 0.0]))
    assert_close(ret, (adv + values) * mask)


def test_whitening_uses_only_masked_entries():
    x = t([[1.0, 2.0, 3.0, 100.0]])
    mask = t([[1, 1, 1, 0]])
    assert_close(masked_whiten(x, mask), t([[-1.0, 0.0, 1.0, 0.0]]), atol=1e-6, rtol=0)
    assert_close(masked_whiten(x, mask, shift_mean=False), t([[1.0, 2.0, 3.0, 0.0]]), atol=1e-6, rtol=0)


def test_clipped_policy_loss_and_clip_fraction():
    old = torch.zeros(1, 4)
    ratios = t([[1.5, 0.5, 0.5, 1.1]])
    adv = t([[1.0, 1.0, -1.0, 2.0]])
    loss, clipfrac = policy_loss(torch.log(ratios), old, adv, torch.ones(1, 4), clip_range=0.2)
    # per token max(-A r, -A clip(r)): -1.2 (clipped), -0.5, 0.8 (clipped), -2.2
    assert math.isclose(loss.item(), (-1.2 - 0.5 + 0.8 - 2.2) / 4, rel_tol=1e-6)
    assert clipfrac.item() == 0.5


def test_clipped_value_loss_and_clip_fraction():
    values = t([[1.0, 0.1, 1.0, 7.0]])
    returns = t([[0.5, 0.5, 2.0, 7.0]])
    mask = t([[1, 1, 1, 0]])
    loss, clipfrac = value_loss(values, torch.zeros(1, 4), returns, mask, clip_range=0.2)
    # clipped values .2, .1, .2: max((v-R)^2, (vc-R)^2) = .25, .16, 3.24
    assert math.isclose(loss.item(), 0.5 * (0.25 + 0.16 + 3.24) / 3, rel_tol=1e-6)
    assert math.isclose(clipfrac.item(), 1 / 3, rel_tol=1e-6)


def test_entropy_and_token_logprobs():
    logits = torch.zeros(1, 2, 4)
    logits[0, 1] = torch.tensor([10.0, -10.0, -10.0, -10.0])
    ent = entropy_from_logits(logits)
    assert math.isclose(ent[0, 0].item(), math.log(4), rel_tol=1e-6)
    assert ent[0, 1].item() < 1e-6
    lp = token_logprobs(logits, torch.tensor([[2, 0]]))
    assert_close(lp, torch.log_softmax(logits, -1)[0, [0, 1], [2, 0]].unsqueeze(0))
