"""The store's schema, as an ordered list of migrations.

A migration is frozen once released (tests/store/test_frozen_migrations.py pins a checksum of
each): a store made by an older retainly upgrades in place by running the migrations it has
not seen yet, in order, each in its own transaction.
The SQL is the subset DuckDB and PostgreSQL share. Money is DECIMAL(18,4), never a float.
``docs/schema.md`` describes every table and column; a test keeps the two in step.
"""

from __future__ import annotations

from retainly.store.access_tables import V13_API_KEYS
from retainly.store.action_tables import V11_ACTIONS
from retainly.store.customer_months import V21_CUSTOMER_MONTHS
from retainly.store.email_tables import V17_EMAIL
from retainly.store.event_tables import V14_EVENT_KEYS
from retainly.store.experiment_tables import V20_EXPERIMENTS
from retainly.store.keyless_results import V22_KEYLESS_RESULTS
from retainly.store.migration_type import Migration
from retainly.store.reach_columns import V18_REACH_COLUMNS
from retainly.store.site_tables import V16_SITE_KEYS
from retainly.store.task_export_tables import V19_TASKS_AND_EXPORTS
from retainly.store.user_tables import V15_USERS

MONEY = "DECIMAL(18,4)"


_V1_CORE = Migration(
    1,
    "core store: customers, products, orders, lines, returns, spend, interactions, imports",
    (
        """CREATE TABLE customers (
            customer_id BIGINT PRIMARY KEY,
            external_id TEXT NOT NULL UNIQUE,
            name TEXT,
            email TEXT,
            phone TEXT,
            gender TEXT,
            birthday DATE,
            country TEXT,
            city TEXT,
            acquisition_channel TEXT,
            first_seen_at TIMESTAMP,
            email_consent BOOLEAN,
            email_consent_at TIMESTAMP,
            sms_consent BOOLEAN,
            sms_consent_at TIMESTAMP,
            import_id BIGINT
        )""",
        f"""CREATE TABLE products (
            sku TEXT PRIMARY KEY,
            name TEXT,
            category TEXT,
            price {MONEY},
            import_id BIGINT
        )""",
        f"""CREATE TABLE orders (
            order_id TEXT PRIMARY KEY,
            customer_id BIGINT,
            placed_at TIMESTAMP NOT NULL,
            status TEXT NOT NULL,
            currency TEXT,
            gross {MONEY} NOT NULL,
            discount {MONEY} NOT NULL,
            shipping {MONEY} NOT NULL,
            tax {MONEY} NOT NULL,
            net {MONEY} NOT NULL,
            channel TEXT,
            promo_code TEXT,
            country TEXT,
            import_id BIGINT
        )""",
        f"""CREATE TABLE order_lines (
            order_id TEXT NOT NULL,
            line_no INTEGER NOT NULL,
            sku TEXT,
            description TEXT,
            quantity INTEGER NOT NULL,
            unit_price {MONEY},
            discount {MONEY} NOT NULL,
            amount {MONEY} NOT NULL,
            kind TEXT NOT NULL,
            PRIMARY KEY (order_id, line_no)
        )""",
        f"""CREATE TABLE returns (
            return_id TEXT NOT NULL,
            line_no INTEGER NOT NULL,
            customer_id BIGINT,
            order_id TEXT,
            order_line_no INTEGER,
            returned_at TIMESTAMP NOT NULL,
            sku TEXT,
            quantity INTEGER,
            amount {MONEY} NOT NULL,
            reason TEXT,
            import_id BIGINT,
            PRIMARY KEY (return_id, line_no)
        )""",
        f"""CREATE TABLE marketing_spend (
            spend_date DATE NOT NULL,
            channel TEXT NOT NULL,
            campaign TEXT NOT NULL,
            amount {MONEY} NOT NULL,
            currency TEXT,
            import_id BIGINT,
            PRIMARY KEY (spend_date, channel, campaign)
        )""",
        """CREATE TABLE interactions (
            interaction_id TEXT PRIMARY KEY,
            customer_id BIGINT NOT NULL,
            occurred_at TIMESTAMP NOT NULL,
            kind TEXT NOT NULL,
            direction TEXT,
            outcome TEXT,
            note TEXT,
            by_whom TEXT,
            import_id BIGINT
        )""",
        """CREATE TABLE imports (
            import_id BIGINT PRIMARY KEY,
            kind TEXT NOT NULL,
            source TEXT NOT NULL,
            preset TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            rows_read BIGINT NOT NULL,
            rows_accepted BIGINT NOT NULL,
            rows_rejected BIGINT NOT NULL,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP NOT NULL,
            status TEXT NOT NULL,
            message TEXT
        )""",
        """CREATE TABLE import_rejects (
            import_id BIGINT NOT NULL,
            source TEXT NOT NULL,
            sheet TEXT,
            line BIGINT,
            column_name TEXT,
            value TEXT,
            reason TEXT NOT NULL
        )""",
        "CREATE INDEX orders_by_customer ON orders (customer_id)",
        "CREATE INDEX returns_by_customer ON returns (customer_id)",
    ),
)

_V2_SITE_AND_PROMOTIONS = Migration(
    2,
    "site events, promotion calendar, and the generated shop's hidden truth",
    (
        """CREATE TABLE site_events (
            event_id TEXT PRIMARY KEY,
            customer_id BIGINT,
            session_id TEXT,
            occurred_at TIMESTAMP NOT NULL,
            kind TEXT NOT NULL,
            sku TEXT,
            order_id TEXT,
            import_id BIGINT
        )""",
        """CREATE TABLE promotions (
            promotion_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            starts_on DATE NOT NULL,
            ends_on DATE NOT NULL,
            promo_code TEXT,
            discount_rate DECIMAL(6,4),
            import_id BIGINT
        )""",
        """CREATE TABLE generator_truth (
            customer_id BIGINT PRIMARY KEY,
            buyer_type TEXT NOT NULL,
            purchase_rate DOUBLE PRECISION NOT NULL,
            dropout_probability DOUBLE PRECISION NOT NULL,
            dropped_out_at TIMESTAMP
        )""",
        """CREATE TABLE generator_product_truth (
            sku TEXT PRIMARY KEY,
            reorder_interval_days INTEGER,
            companion_of TEXT
        )""",
        # Which preset/mapping options an import ran with, so a re-run is recognised.
        "ALTER TABLE imports ADD COLUMN options TEXT",
    ),
)

_V3_RFM_SCORES = Migration(
    3,
    "per-customer RFM scores and segments as of a date",
    (
        f"""CREATE TABLE rfm_scores (
            as_of DATE NOT NULL,
            customer_id BIGINT NOT NULL,
            recency_days INTEGER NOT NULL,
            frequency INTEGER NOT NULL,
            monetary {MONEY} NOT NULL,
            r_score INTEGER NOT NULL,
            f_score INTEGER NOT NULL,
            m_score INTEGER NOT NULL,
            segment TEXT NOT NULL,
            bins INTEGER NOT NULL,
            computed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (as_of, customer_id)
        )""",
    ),
)

_V4_PURCHASES = Migration(
    4,
    "purchases: one row per purchase order with its revenue, kept by every import",
    (
        f"""CREATE TABLE purchases (
            order_id TEXT NOT NULL,
            customer_id BIGINT,
            placed_at TIMESTAMP NOT NULL,
            channel TEXT,
            promo_code TEXT,
            revenue {MONEY} NOT NULL
        )""",
    ),
    derived=("purchases",),
)

_V5_PREDICTIONS = Migration(
    5,
    "model fits and per-customer predictions as of a date",
    (
        """CREATE TABLE model_fits (
            fit_id BIGINT PRIMARY KEY,
            as_of DATE NOT NULL,
            model TEXT NOT NULL,
            time_unit TEXT NOT NULL,
            params TEXT NOT NULL,
            spend_model TEXT NOT NULL,
            spend_params TEXT NOT NULL,
            log_likelihood DOUBLE PRECISION,
            customers INTEGER NOT NULL,
            repeat_buyers INTEGER NOT NULL,
            horizon_days INTEGER NOT NULL,
            discount_rate DOUBLE PRECISION NOT NULL,
            confidence TEXT NOT NULL,
            reason TEXT NOT NULL,
            backtest TEXT,
            fitted_at TIMESTAMP NOT NULL
        )""",
        """CREATE TABLE customer_scores (
            as_of DATE NOT NULL,
            customer_id BIGINT NOT NULL,
            fit_id BIGINT NOT NULL,
            model TEXT NOT NULL,
            p_alive DOUBLE PRECISION NOT NULL,
            expected_orders DOUBLE PRECISION NOT NULL,
            p_order DOUBLE PRECISION NOT NULL,
            expected_spend DOUBLE PRECISION,
            clv DOUBLE PRECISION,
            next_order_date DATE,
            confidence TEXT NOT NULL,
            PRIMARY KEY (as_of, customer_id)
        )""",
    ),
)

_V6_LIFECYCLE = Migration(
    6,
    "lifecycle stages and transitions, churn warning signs, buyer types, reorders due and products to offer",
    (
        """CREATE TABLE lifecycle_stages (
            as_of DATE NOT NULL,
            customer_id BIGINT NOT NULL,
            stage TEXT NOT NULL,
            vip BOOLEAN NOT NULL,
            rhythm_days DOUBLE PRECISION NOT NULL,
            days_since_last INTEGER NOT NULL,
            p_alive DOUBLE PRECISION,
            value DOUBLE PRECISION NOT NULL,
            reason TEXT NOT NULL,
            computed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (as_of, customer_id)
        )""",
        """CREATE TABLE lifecycle_transitions (
            customer_id BIGINT NOT NULL,
            from_date DATE NOT NULL,
            to_date DATE NOT NULL,
            from_stage TEXT NOT NULL,
            to_stage TEXT NOT NULL,
            PRIMARY KEY (customer_id, from_date, to_date)
        )""",
        """CREATE TABLE churn_signals (
            as_of DATE NOT NULL,
            customer_id BIGINT NOT NULL,
            risk_score DOUBLE PRECISION NOT NULL,
            sign_count INTEGER NOT NULL,
            signs TEXT NOT NULL,
            computed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (as_of, customer_id)
        )""",
        """CREATE TABLE buyer_types (
            as_of DATE NOT NULL,
            customer_id BIGINT NOT NULL,
            buyer_type TEXT NOT NULL,
            source TEXT NOT NULL,
            probability DOUBLE PRECISION,
            reason TEXT NOT NULL,
            computed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (as_of, customer_id)
        )""",
        """CREATE TABLE product_intervals (
            as_of DATE NOT NULL,
            sku TEXT NOT NULL,
            buyers BIGINT NOT NULL,
            repeat_buyers BIGINT NOT NULL,
            intervals BIGINT NOT NULL,
            median_days DOUBLE PRECISION,
            p25_days DOUBLE PRECISION,
            p75_days DOUBLE PRECISION,
            consumable BOOLEAN NOT NULL,
            computed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (as_of, sku)
        )""",
        """CREATE TABLE reorders_due (
            as_of DATE NOT NULL,
            customer_id BIGINT NOT NULL,
            sku TEXT NOT NULL,
            last_purchase DATE NOT NULL,
            interval_days DOUBLE PRECISION NOT NULL,
            due_date DATE NOT NULL,
            days_overdue INTEGER NOT NULL,
            computed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (as_of, customer_id, sku)
        )""",
        """CREATE TABLE next_products (
            as_of DATE NOT NULL,
            customer_id BIGINT NOT NULL,
            rank INTEGER NOT NULL,
            sku TEXT NOT NULL,
            score DOUBLE PRECISION NOT NULL,
            lift DOUBLE PRECISION NOT NULL,
            because_of TEXT NOT NULL,
            kind TEXT NOT NULL,
            computed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (as_of, customer_id, rank)
        )""",
    ),
)

_V7_ERASURES = Migration(
    7,
    "erasures: which customers had their personal data erased, and when",
    (
        """CREATE TABLE erasures (
            customer_id BIGINT NOT NULL PRIMARY KEY,
            external_id_hash TEXT NOT NULL,
            erased_at TIMESTAMP NOT NULL,
            erased_fields TEXT NOT NULL
        )""",
        "CREATE INDEX erasures_by_external_id_hash ON erasures (external_id_hash)",
    ),
)

# v6 shipped with three tables; the last four were added to it later, so a store made in between
# is "at v6" without them. This creates each of them that is missing, as v6 defines it.
_V8_REPAIR_V6 = Migration(
    8,
    "repair: buyer types, product intervals, reorders due and products to offer, where v6 lacked them",
    tuple(statement.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1)
          for statement in _V6_LIFECYCLE.statements[3:]),
)

# Ids were "highest + 1", so two commands writing at once could pick the same one.
_V9_ID_SEQUENCES = Migration(
    9,
    "sequences for import, customer and model fit ids, so commands running at once never pick the same id",
    (),
    sequences=(("import_ids", "imports", "import_id"), ("customer_ids", "customers", "customer_id"),
               ("fit_ids", "model_fits", "fit_id")),
)

# The chance to order within a window, calibrated on the shop's history (docs/models.md). Stored
# predictions are derived data: those made before have no such chance, so they are dropped and
# made again, with today's rules, when next read.
_V10_ORDER_CHANCE = Migration(
    10,
    "the calibrated chance to order within a window, per customer, and the calibration with each fit",
    (
        "ALTER TABLE model_fits ADD COLUMN order_window_days INTEGER",
        "ALTER TABLE model_fits ADD COLUMN calibration TEXT",
        "ALTER TABLE customer_scores ADD COLUMN order_chance DOUBLE PRECISION",
        "DELETE FROM customer_scores",
    ),
)

# DuckDB keeps an index up to date by deleting and re-inserting the entry of every changed row and
# reads a column of a million rows faster than it uses the index, so these two made every claim
# and finish of an outbox row 4-5 times slower there and no query faster. PostgreSQL keeps them:
# it finds the queued rows and a customer's messages through them.
_V12_DUCKDB_OUTBOX_INDEXES = Migration(
    12,
    "DuckDB: the outbox's status and customer indexes dropped (they slowed every claim and finish)",
    ("DROP INDEX outbox_by_status", "DROP INDEX outbox_by_customer"),
    engines=("duckdb",),
)

MIGRATIONS: tuple[Migration, ...] = (_V1_CORE, _V2_SITE_AND_PROMOTIONS, _V3_RFM_SCORES, _V4_PURCHASES,
                                     _V5_PREDICTIONS, _V6_LIFECYCLE, _V7_ERASURES, _V8_REPAIR_V6,
                                     _V9_ID_SEQUENCES, _V10_ORDER_CHANCE, V11_ACTIONS, _V12_DUCKDB_OUTBOX_INDEXES,
                                     V13_API_KEYS, V14_EVENT_KEYS, V15_USERS, V16_SITE_KEYS, V17_EMAIL,
                                     V18_REACH_COLUMNS, V19_TASKS_AND_EXPORTS, V20_EXPERIMENTS,
                                     V21_CUSTOMER_MONTHS, V22_KEYLESS_RESULTS)
LATEST_VERSION = MIGRATIONS[-1].version

SCHEMA_TABLE_DDL = """CREATE TABLE IF NOT EXISTS retainly_schema (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL
)"""
