import pytest
import torch
from torch import nn

from corpusforge.train.lora import LoRALinear, adapters_disabled, apply_lora, merge_lora, merged_state_dict


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(8, 24)
        self.c_proj = nn.Linear(8, 8)

    def forward(self, x):
        return self.c_proj(torch.tanh(self.c_attn(x)[..., :8]))


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(11, 8)
        self.h = nn.ModuleList([Block(), Block()])
        self.lm_head = nn.Linear(8, 11, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, like GPT

    def forward(self, idx):
        x = self.wte(idx)
        for block in self.h:
            x = x + block(x)
        return self.lm_head(x)


def _toy():
    torch.manual_seed(0)
    return Toy()


def test_fresh_adapters_compute_the_base_model_and_only_adapters_train():
    model = _toy()
    idx = torch.randint(0, 11, (2, 5))
    before = model(idx)
    wrapped = apply_lora(model, rank=2, alpha=4, targets=["c_attn"])
    assert wrapped == ["h.0.c_attn", "h.1.c_attn"]
    assert isinstance(model.h[0].c_attn, LoRALinear) and not isinstance(model.h[0].c_proj, LoRALinear)
    torch.testing.assert_close(model(idx), before)
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert trainable == ["h.0.c_attn.lora_A", "h.0.c_attn.lora_B", "h.1.c_attn.lora_A", "h.1.c_attn.lora_B"]


def test_training_moves_only_the_adapters_and_merge_reproduces_the_adapted_model():
    model = _toy()
    base_weight = model.h[0].c_attn.weight.detach().clone()
    apply_lora(model, rank=2, alpha=8, targets=["c_attn", "c_proj"])
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    idx = torch.randint(0, 11, (4, 6))
    for _ in range(5):
        loss = nn.functional.cross_entropy(model(idx).flatten(0, 1), idx.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.testing.assert_close(model.h[0].c_attn.base.weight, base_weight)  # the base stays frozen
    assert model.h[0].c_attn.lora_B.abs().sum() > 0
    adapted = model(idx).detach()
    with adapters_disabled(model):
        assert not torch.allclose(model(idx), adapted)
    merged = merged_state_dict(model)
    merge_lora(model)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert merged.keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(merged[key], value)
    assert type(model.h[0].c_attn) is nn.Linear
    assert sorted(model.state_dict()) == sorted(_toy().state_dict())  # base module names again
    torch.testing.assert_close(model(idx), adapted, rtol=1e-5, atol=1e-5)
    assert model.lm_head.weight is model.wte.weight


def test_delta_is_scaled_by_alpha_over_rank():
    layer = nn.Linear(3, 2, bias=False)
    lora = LoRALinear(layer, rank=1, alpha=3.0)
    with torch.no_grad():
        lora.lora_A.copy_(torch.tensor([[1.0, 0.0, 2.0]]))
        lora.lora_B.copy_(torch.tensor([[1.0], [-1.0]]))
    x = torch.tensor([[1.0, 1.0, 1.0]])
    # B @ A @ x = [3, -3], times alpha / rank = 3
    torch.testing.assert_close(lora(x) - layer(x), torch.tensor([[9.0, -9.0]]))


def test_bad_targets_are_errors():
    with pytest.raises(ValueError, match="tied"):
        apply_lora(_toy(), rank=2, alpha=2, targets=["lm_head"])
    with pytest.raises(ValueError, match="c_fc"):
        apply_lora(_toy(), rank=2, alpha=2, targets=["c_attn", "c_fc"])
    with pytest.raises(ValueError, match="rank"):
        apply_lora(_toy(), rank=0, alpha=2, targets=["c_attn"])
