"""What Ibis writes for Spark that Spark reads otherwise than the other engines, put right.

Ibis writes a float literal such as ``86400.0`` as it is, and Spark SQL reads a number with a
point as a DECIMAL (here DECIMAL(6,1)), not a DOUBLE as DuckDB and PostgreSQL do: ``seconds /
86400.0`` then rounds to a decimal's scale (5.7968981 days, not 5.796898148...). Writing the
literal as a cast to DOUBLE gives Spark the same arithmetic as the other engines.

Spark 4 runs SQL in ANSI mode, where ``x / 0`` stops the query; DuckDB gives NULL. Division is
written as ``try_divide``, Spark's NULL-on-zero form, so a customer with nothing to divide by
reads as missing there too, not as a failed run.
"""

from __future__ import annotations

import math

import sqlglot.expressions as sge
from ibis.backends.sql.compilers.pyspark import PySparkCompiler


class RetainlyPySparkCompiler(PySparkCompiler):
    """Ibis's PySpark compiler with float literals typed as floats and division by zero as NULL."""

    def visit_NonNullLiteral(self, op, *, value, dtype):
        if dtype.is_floating() and math.isfinite(value):
            return self.cast(sge.convert(float(value)), dtype)
        return super().visit_NonNullLiteral(op, value=value, dtype=dtype)

    def visit_Divide(self, op, *, left, right):
        return self.f.try_divide(left, right)
