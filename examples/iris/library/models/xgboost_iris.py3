# A conformed XGBoost iris classifier in the explicit ("Slot") style of FastScore 1.10.
# fastscore.action: unused
# fastscore.schema.0: xgboost_iris_input
# fastscore.schema.1: xgboost_iris_output
# fastscore.module-attached: xgboost

from fastscore.io import Slot
from xgboost import XGBClassifier

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

# The attachment (xgboost_iris.tar.gz) is unpacked into the model's working directory, where the
# model's own open() looks for relative paths; XGBoost then loads the booster from the bytes.
model = XGBClassifier()
with open("xgboost_iris.json", "rb") as f:
    model.load_model(bytearray(f.read()))

for df in Slot(0):
    probabilities = model.predict_proba(df[FEATURES])
    for a, b, c in probabilities.tolist():
        Slot(1).write({"A": a, "B": b, "C": c})
