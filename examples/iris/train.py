"""Train the example XGBoost iris classifier and package it as the model's attachment.

Run from the repository root: ``python examples/iris/train.py`` (needs ``pip install -e '.[examples]'``).
It trains on scikit-learn's bundled iris data with a fixed seed, saves the booster in XGBoost's
portable JSON format, and writes ``library/attachments/xgboost_iris/xgboost_iris.tar.gz``, which
the conformed model ``library/models/xgboost_iris.py3`` loads from its working directory.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path

from sklearn.datasets import load_iris
from xgboost import XGBClassifier

HERE = Path(__file__).resolve().parent
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def main() -> Path:
    data = load_iris()
    model = XGBClassifier(n_estimators=30, max_depth=3, learning_rate=0.3, random_state=0, n_jobs=1)
    model.fit(data.data, data.target)
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "xgboost_iris.json"
        model.save_model(saved)
        payload = saved.read_bytes()
    target = HERE / "library" / "attachments" / "xgboost_iris" / "xgboost_iris.tar.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("xgboost_iris.json")
        info.size = len(payload)
        info.mtime = 0  # reproducible archive
        tar.addfile(info, io.BytesIO(payload))
    target.write_bytes(buf.getvalue())
    return target


if __name__ == "__main__":
    print(f"wrote {main()}")
