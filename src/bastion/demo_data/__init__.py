"""Demo databases from defog (Apache-2.0), loadable into PostgreSQL, MariaDB and SQLite.

``broker`` (brokerage customers by US state, tickers, prices, transactions) and
``car_dealership`` (cars, salespersons, customers, sales, payments), with column
descriptions, a few gold questions per dialect, and suggested per-user row policies
(:func:`policies`). See ``PROVENANCE.md`` beside this file.
"""

from bastion.demo_data.loader import (
    DemoDataError,
    available,
    describe,
    load,
    policies,
    questions,
    row_counts,
)

__all__ = [
    "DemoDataError",
    "available",
    "describe",
    "load",
    "policies",
    "questions",
    "row_counts",
]
