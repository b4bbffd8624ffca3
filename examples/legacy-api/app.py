"""The legacy orders API: Flask served by gunicorn (see the Dockerfile's CMD), SQLAlchemy for the database."""

from flask import Flask, jsonify
from sqlalchemy import create_engine, text

import settings

app = Flask(__name__)
# create_engine only imports the driver named in the URL; it connects on first use.
engine = create_engine(settings.DATABASE_URL, pool_size=settings.POOL_SIZE, pool_pre_ping=True)


@app.get("/healthz")
def healthz():
    return jsonify(status="ok", driver=engine.dialect.driver)


@app.get("/orders/<int:order_id>")
def order(order_id: int):
    with engine.connect() as conn:
        row = conn.execute(text("SELECT id, total FROM orders WHERE id = :id"), {"id": order_id}).first()
    if row is None:
        return jsonify(error="not found"), 404
    return jsonify(id=row.id, total=float(row.total))
