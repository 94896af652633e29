"""
==============================================
Customer segmentation from a SQL database
==============================================

The author of the K-Means lesson this package grew from wanted to use it on
the customer data in a SQL database: find groups of users "who spend more but
click less, or click more and spend less", and write the groups back so the
team's reports can break the numbers down by segment.  This example does that
end to end on a small SQLite database it creates in a temporary folder:

1. read the customers (spend, clicks, income, age) with pandas;
2. scale the features, let :class:`~sklearn_kmeans_lab.KSelector` choose the
   number of segments and cluster;
3. write every customer's segment back to a table;
4. summarise the segments with SQL.

Only the standard library's :mod:`sqlite3` is needed; with another database,
pass a SQLAlchemy connection to :func:`pandas.read_sql_query` and
:meth:`pandas.DataFrame.to_sql` instead.
"""

# %%
# A small customer database
# -------------------------
# A stand-in for the real table: 600 customers in four behaviours, with
# income and age from :func:`~sklearn_kmeans_lab.make_income_age_clusters`
# and a year's spend and weekly site visits ("clicks") that depend on the
# behaviour.  The behaviours are only used to generate the data; the
# clustering never sees them.
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn_kmeans_lab import make_income_age_clusters

rng = np.random.RandomState(0)
income_age, behaviour = make_income_age_clusters(
    n_samples=600, n_clusters=4, shuffle=True, random_state=3
)
# Per behaviour: the share of income spent with us, and the mean weekly clicks.
spend_share = np.array([0.020, 0.006, 0.012, 0.004])[behaviour]
mean_clicks = np.array([3.0, 25.0, 10.0, 40.0])[behaviour]
customers = pd.DataFrame(
    {
        "customer_id": np.arange(1, 601),
        "income": income_age[:, 0].round(-2),
        "age": income_age[:, 1].round(),
        "spend": (income_age[:, 0] * spend_share * rng.lognormal(0, 0.25, 600)),
        "clicks": rng.poisson(mean_clicks),
    }
).round({"spend": 2})

workdir = tempfile.TemporaryDirectory()
db_path = Path(workdir.name) / "shop.db"
with sqlite3.connect(db_path) as connection:
    connection.execute(
        """CREATE TABLE customers (
               customer_id INTEGER PRIMARY KEY,
               income REAL, age REAL, spend REAL, clicks INTEGER)"""
    )
    connection.executemany(
        "INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
        customers.itertuples(index=False, name=None),
    )

# %%
# Read the customers
# ------------------
# From here on, the code is what it would be against the real database.
FEATURES = ["spend", "clicks", "income", "age"]
connection = sqlite3.connect(db_path)
df = pd.read_sql_query(
    "SELECT customer_id, spend, clicks, income, age FROM customers", connection
)
df[FEATURES].describe().round(1)

# %%
# Prepare the features and choose the number of segments
# ------------------------------------------------------
# Spend and clicks are skewed (a few customers spend or click a lot), so they
# are log-transformed; then every feature is standardised so that dollars,
# clicks and years weigh alike (see :ref:`user_guide_scaling`).  The gap
# statistic chooses K between 1 and 8.
from sklearn.compose import make_column_transformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_kmeans_lab import KSelector

preprocess = make_column_transformer(
    (
        make_pipeline(FunctionTransformer(np.log1p), StandardScaler()),
        ["spend", "clicks"],
    ),
    (StandardScaler(), ["income", "age"]),
)
model = make_pipeline(
    preprocess, KSelector(k_range=range(1, 9), n_refs=10, random_state=0)
)
segments = model.fit_predict(df[FEATURES])
selector = model[-1]
print(f"number of segments chosen by the gap statistic: {selector.n_clusters_}")

# %%
# The gap curve, with its standard errors and the chosen K marked:
from sklearn_kmeans_lab import KSelectorDisplay

KSelectorDisplay.from_estimator(selector)

# %%
# Write the segments back
# -----------------------
# A table of its own, keyed by customer, keeps the source table untouched and
# can be refreshed whenever the model is re-run.
pd.DataFrame({"customer_id": df["customer_id"], "segment": segments}).to_sql(
    "customer_segments", connection, if_exists="replace", index=False
)
pd.read_sql_query("SELECT * FROM customer_segments LIMIT 5", connection)

# %%
# Summarise the segments with SQL
# -------------------------------
# The report the team wanted: size, average profile and revenue of every
# segment, computed by the database from the two tables.
summary = pd.read_sql_query(
    """
    SELECT s.segment,
           COUNT(*)            AS customers,
           ROUND(AVG(c.spend)) AS avg_spend,
           ROUND(AVG(c.clicks), 1) AS avg_clicks,
           ROUND(AVG(c.income)) AS avg_income,
           ROUND(AVG(c.age), 1) AS avg_age,
           ROUND(SUM(c.spend)) AS revenue
    FROM customers AS c JOIN customer_segments AS s USING (customer_id)
    GROUP BY s.segment
    ORDER BY revenue DESC
    """,
    connection,
)
summary

# %%
# Each segment in words, relative to the average customer: this is the
# "spends more but clicks less" reading the lesson's author was after.
overall = df[FEATURES].mean()
WORDS = {  # feature: (well above average, well below average)
    "spend": ("spends more", "spends less"),
    "clicks": ("clicks more", "clicks less"),
    "income": ("higher income", "lower income"),
    "age": ("older", "younger"),
}


def describe(row):
    words = []
    for feature, (above, below) in WORDS.items():
        ratio = row[f"avg_{feature}"] / overall[feature]
        if ratio > 1.25:
            words.append(above)
        elif ratio < 0.8:
            words.append(below)
    return ", ".join(words) or "average on every feature"


summary.set_index("segment").apply(describe, axis=1).rename("profile")

# %%
# The segments in the two behavioural features, spend against clicks:
from sklearn_kmeans_lab import ClusterScatterDisplay

display = ClusterScatterDisplay(
    X=df[["clicks", "spend"]].to_numpy(),
    labels=segments,
    feature_names=("weekly clicks", "spend over the year (dollars)"),
).plot()
display.ax_.set_yscale("log")

# %%
# How well the segments match the behaviours that generated the data (the
# adjusted Rand index, 1 is a perfect match):
from sklearn.metrics import adjusted_rand_score

print(f"adjusted Rand index: {adjusted_rand_score(behaviour, segments):.2f}")

# %%
# New customers are assigned to a segment by the same fitted pipeline, for
# instance in a nightly job that reads yesterday's sign-ups:
new_customers = pd.DataFrame(
    {
        "spend": [2400.0, 150.0],
        "clicks": [2, 45],
        "income": [120_000, 35_000],
        "age": [52, 23],
    }
)
model.predict(new_customers[FEATURES])

# %%
connection.close()
workdir.cleanup()
