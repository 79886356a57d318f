"""Leave-one-out evaluation of the transformer on a GPU machine (no Kafka stack needed).

    python3 -m bench.offline_eval_gpu PAIRS_FILE OUT_JSON [EPOCHS]

Same protocol as ``recstream evaluate``, with SASRec-like sizes (hidden 64, 2 layers,
50 positions) and a full softmax over the catalogue.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from model.learner_config import LearnerConfig
from model.offline_evaluation import SplitMetrics, leave_one_out
from model.sequential_recommender import RecommenderConfig
from model.transformer_learner import TransformerLearner
from stream.data.event_files import read_pairs


def main() -> None:
    path, out = Path(sys.argv[1]), Path(sys.argv[2])
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    users: dict[str, list[str]] = {}
    for event in read_pairs(path):
        users.setdefault(event["user_id"], []).append(event["item_id"])
    config = LearnerConfig(
        model=RecommenderConfig(hidden_size=64, num_layers=2, num_heads=2, max_len=50,
                                dropout=0.3, num_actions=3),
        full_softmax_max_items=200_000, learning_rate=1e-3, device="auto",
    )  # fmt: skip
    learner = TransformerLearner(config)
    history = []

    def show(epoch: int, valid: SplitMetrics, seconds: float) -> None:
        row = {"epoch": epoch, **{f"valid_{k}": v for k, v in valid.as_dict().items()}}
        history.append(row)
        print(json.dumps(row), f"eval {seconds:.1f}s", flush=True)

    started = time.perf_counter()
    valid, test, train_s, best = leave_one_out(learner, users, epochs, 128, on_epoch=show)
    result = {
        "device": str(learner.device), "users": len(users), "epochs": epochs, "best_epoch": best,
        "train_s": train_s, "wall_s": time.perf_counter() - started,
        "valid": valid.as_dict(), "test": test.as_dict(), "history": history,
    }  # fmt: skip
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({"test": result["test"], "best_epoch": best, "train_s": train_s}, indent=1))


if __name__ == "__main__":
    main()
