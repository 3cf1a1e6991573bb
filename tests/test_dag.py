"""DAG order, targets and fusion of shard stages."""

from corpusforge.pipeline.config import validate
from corpusforge.pipeline.dag import make_plan, topological_order


def _pipeline(docs_dir, stages):
    return validate({"sources": {"docs": {"paths": str(docs_dir / "*.jsonl")}}, "stages": stages})


def test_order_follows_dependencies_not_declaration(docs_dir):
    pipeline = _pipeline(
        docs_dir,
        [
            {"id": "c", "stage": "passthrough", "inputs": ["b"]},
            {"id": "a", "stage": "passthrough", "inputs": ["docs"]},
            {"id": "b", "stage": "passthrough", "inputs": ["a"]},
            {"id": "d", "stage": "passthrough", "inputs": ["docs"]},
        ],
    )
    order = topological_order(pipeline)
    assert order.index("a") < order.index("b") < order.index("c")
    # Independent stages keep config order among those ready at the same time.
    assert order == ["a", "d", "b", "c"]


def test_chain_fuses_into_one_task_group(tmp_path, docs_dir):
    pipeline = _pipeline(
        docs_dir,
        [
            {"id": "a", "stage": "passthrough", "inputs": ["docs"]},
            {"id": "b", "stage": "teststages:MinChars", "inputs": ["a"]},
            {"id": "c", "stage": "passthrough", "inputs": ["b"]},
        ],
    )
    plan = make_plan(pipeline, str(tmp_path / "out"))
    assert [s.stages for s in plan.segments] == [["a", "b", "c"]]
    assert plan.materialized == {"c"}  # only the final output is written


def test_save_and_branching_materialize(tmp_path, docs_dir):
    pipeline = _pipeline(
        docs_dir,
        [
            {"id": "a", "stage": "passthrough", "inputs": ["docs"], "save": True},
            {"id": "b", "stage": "passthrough", "inputs": ["a"]},
            {"id": "c", "stage": "passthrough", "inputs": ["b"]},
            {"id": "d", "stage": "passthrough", "inputs": ["b"]},
        ],
    )
    plan = make_plan(pipeline, str(tmp_path / "out"))
    # `a` is saved but still fused with `b`; `b` feeds two stages, so it is written and read back.
    assert [s.stages for s in plan.segments] == [["a", "b"], ["c"], ["d"]]
    assert plan.materialized == {"a", "b", "c", "d"}


def test_target_runs_only_what_it_needs(tmp_path, docs_dir):
    pipeline = _pipeline(
        docs_dir,
        [
            {"id": "a", "stage": "passthrough", "inputs": ["docs"]},
            {"id": "b", "stage": "passthrough", "inputs": ["a"]},
            {"id": "other", "stage": "passthrough", "inputs": ["docs"]},
        ],
    )
    plan = make_plan(pipeline, str(tmp_path / "out"), ["a"])
    assert plan.order == ["a"]
    assert plan.materialized == {"a"}
