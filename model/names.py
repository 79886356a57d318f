"""The learners recstream can build (model/registry.py builds them; this list imports nothing)."""

MODEL_NAMES = ("transformer", "popularity", "trending", "cooc", "recent", "frozen", "retrain")
