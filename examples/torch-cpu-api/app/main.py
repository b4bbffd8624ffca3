"""A small scoring API: a linear model evaluated with torch on the CPU (no GPU is ever requested)."""

from fastapi import FastAPI, HTTPException

import torch

DEVICE = torch.device("cpu")
WEIGHTS = torch.tensor([0.4, -0.2, 0.1, 0.3], dtype=torch.float32, device=DEVICE)

app = FastAPI(title="torch-cpu-api")


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok", "torch": torch.__version__, "device": str(DEVICE)}


@app.post("/score")
def score(values: list[float]) -> dict[str, float]:
    if len(values) != len(WEIGHTS):
        raise HTTPException(status_code=422, detail=f"expected {len(WEIGHTS)} values")
    with torch.no_grad():
        x = torch.tensor(values, dtype=torch.float32, device=DEVICE)
        return {"score": float((x * WEIGHTS).sum())}
