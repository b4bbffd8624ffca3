"""Run inside an image (``python -c SRC name ...``): each framework's build and a tiny deterministic result.

Prints ``DW-FRAMEWORK {json}`` per framework named on the command line: {"framework", "ok", "version",
"result" (a small computation, rounded, as a list), "error"?, and for torch "cuda" (``torch.version.cuda``)
and "cuda_available"}. The same computation in the before and the after image must give the same result.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any


def _rounded(values: Any) -> Any:
    if isinstance(values, (list, tuple)):
        return [_rounded(v) for v in values]
    if isinstance(values, float):
        return round(values, 6)
    return values


def probe_torch() -> dict[str, Any]:
    torch = importlib.import_module("torch")

    torch.manual_seed(0)
    result = (torch.arange(12.0).reshape(3, 4) @ torch.ones(4, 2)).tolist()
    return {
        "version": torch.__version__,
        "cuda": torch.version.cuda,
        "cuda_available": bool(torch.cuda.is_available()),
        "result": result,
    }


def probe_numpy() -> dict[str, Any]:
    numpy = importlib.import_module("numpy")

    matrix = numpy.arange(12.0).reshape(3, 4) @ numpy.ones((4, 2))
    det = float(numpy.linalg.det([[2.0, 1.0], [1.0, 3.0]]))
    return {"version": numpy.__version__, "result": [matrix.tolist(), det]}


def probe_pandas() -> dict[str, Any]:
    pandas = importlib.import_module("pandas")

    frame = pandas.DataFrame({"a": [1, 2, 3], "b": [4.0, 5.0, 6.0]})
    return {"version": pandas.__version__, "result": [frame.sum().tolist(), frame.describe().loc["mean"].tolist()]}


def probe_scipy() -> dict[str, Any]:
    scipy = importlib.import_module("scipy")
    linalg = importlib.import_module("scipy.linalg")

    return {"version": scipy.__version__, "result": float(linalg.det([[2.0, 1.0], [1.0, 3.0]]))}


def probe_sklearn() -> dict[str, Any]:
    sklearn = importlib.import_module("sklearn")
    linear = importlib.import_module("sklearn.linear_model")

    model = linear.LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
    return {"version": sklearn.__version__, "result": [model.coef_.tolist(), float(model.intercept_)]}


PROBES = {
    "torch": probe_torch,
    "numpy": probe_numpy,
    "pandas": probe_pandas,
    "scipy": probe_scipy,
    "sklearn": probe_sklearn,
}


def main(names: list[str]) -> None:
    for name in names:
        row: dict[str, Any] = {"framework": name}
        try:
            row.update(PROBES[name]())
            row["ok"] = True
            row["result"] = _rounded(row.get("result"))
        except BaseException as exc:
            row["ok"] = False
            row["error"] = f"{type(exc).__name__}: {exc}"[:500]
        print("DW-FRAMEWORK " + json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
