"""Daily ETL: revenue per region and day from an orders CSV, written as JSON lines to stdout."""

import sys

import pandas as pd


def transform(orders: pd.DataFrame) -> pd.DataFrame:
    orders = orders.assign(day=pd.to_datetime(orders["created_at"]).dt.date,
                           revenue=orders["quantity"] * orders["unit_price"])
    daily = orders.groupby(["region", "day"], as_index=False)["revenue"].sum()
    return daily.sort_values(["region", "day"]).reset_index(drop=True)


def main(path: str) -> None:
    daily = transform(pd.read_csv(path))
    sys.stdout.write(daily.to_json(orient="records", lines=True, date_format="iso"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/orders.csv")
