"""Chat-data formatting into packed directories (stages/pack/contract.py is the format):

- `sft_format` (sft.py): instruction/input/output records -> packed rows with a loss mask;
- `preference_format` (preference.py): prompt/chosen/rejected records -> pair rows;
- `prompt_format` (prompts.py): prompts only, for PPO rollouts.
All render prompts with one chat template (template.py) and skip bad records with a reason.
"""
