"""Settings read at start-up. The database driver is chosen by the URL's scheme (SQLAlchemy loads psycopg2)."""

import os

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql+psycopg2://legacy:legacy@db:5432/legacy")
POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", "5"))
