"""What image bytes cost a month. The prices live with the model, not in config or a reporter, so every
report format (and a guard budget) computes a cost the same way from the same figures."""

from __future__ import annotations

from dataclasses import dataclass

from deadweight.units import gigabytes


@dataclass(frozen=True)
class CostModel:
    """Prices for the cost section of reports; defaults are typical public-cloud list prices (USD)."""

    storage_per_gb_month: float = 0.10
    transfer_per_gb: float = 0.09
    pulls_per_month: int = 100


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """Monthly cost of storing and pulling some bytes under a CostModel (USD)."""

    storage: float  # GB stored x price per GB-month
    transfer: float  # GB x pulls per month x price per GB

    @property
    def total(self) -> float:
        return self.storage + self.transfer


def monthly_cost(size: int, cost: CostModel) -> CostEstimate:
    """What ``size`` bytes of image cost a month: stored once, pulled ``pulls_per_month`` times."""
    gb = gigabytes(max(0, size))
    return CostEstimate(
        storage=gb * cost.storage_per_gb_month,
        transfer=gb * cost.pulls_per_month * cost.transfer_per_gb,
    )
