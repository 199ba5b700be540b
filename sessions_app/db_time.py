"""Time arithmetic done by the database, the same on PostgreSQL and SQLite.

Django subtracts datetimes into a duration, which PostgreSQL returns as an interval and SQLite as
microseconds through a Python function: neither can be summed with a float column, bucketed with
integer division or indexed. These give plain numbers instead.
"""

from __future__ import annotations

from django.db.models import BigIntegerField, FloatField, Func


class SecondsBetween(Func):
    """Seconds from `start` to `end` (negative when `end` comes first), as a float.

    On PostgreSQL the epoch of an interval in double precision: immutable (an index may hold it,
    unlike the epoch of a timestamptz, which depends on the time zone) and without EXTRACT's
    numeric arithmetic, which costs a microsecond a row. On SQLite from its own julianday(), so an
    index that holds it needs none of Django's Python functions.
    """

    output_field = FloatField()
    arg_joiner = " - "
    template = "date_part('epoch', (%(expressions)s))"
    sqlite_template = "((julianday(%(expressions)s)) * 86400.0)"

    def __init__(self, start, end, **extra):
        super().__init__(end, start, **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template=self.sqlite_template, arg_joiner=") - julianday(",
                           **extra_context)


class MillisecondsBetween(SecondsBetween):
    """Whole milliseconds from `start` to `end`, as an integer: exact bucket arithmetic (SQLite's
    julianday() is a float a few microseconds off, well inside the rounding)."""

    output_field = BigIntegerField()
    template = "CAST(date_part('epoch', (%(expressions)s)) * 1000 AS bigint)"
    sqlite_template = "CAST(ROUND((julianday(%(expressions)s)) * 86400000.0) AS INTEGER)"
