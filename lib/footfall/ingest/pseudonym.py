"""Pseudonyms: HMAC-SHA256 of the msisdn under a key derived per period from a secret master key.

The master key comes from $FOOTFALL_PSEUDONYM_KEY or a file the config names; it never reaches a table, a log
or a Spark plan. Each pseudonym period (`pseudonym_period_days`) gets its own key, derived on the driver, so
the same person has unrelated pseudonyms in different periods.

Periods are whole local ISO weeks: they count from Monday 1970-01-05, last a multiple of 7 days (the config
refuses anything else), and an event's period is that of its LOCAL date (the config's time zone), not of its UTC
partition date. Every published number is per local date or per local ISO week and counts distinct pseudonyms;
a date or week that straddled a rotation would hold two pseudonyms for one device, so 11 people could pass
k = 20 as 22, and a per-device contribution bound would allow twice the contribution. With aligned periods
every local date and every ISO week lies inside one period. The price: a rotation still cuts the night from
Sunday to Monday, so home detection on a period's first dates sees only the nights since the rotation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from footfall import schemas as S

ENV_KEY = "FOOTFALL_PSEUDONYM_KEY"
MIN_KEY_BYTES = 32
_SHA256_BLOCK = 64
_EPOCH = dt.date(1970, 1, 5)  # a Monday: periods of whole weeks counted from it start on Mondays
_EPOCH_UNIX_DAY = (_EPOCH - dt.date(1970, 1, 1)).days
# Columns of the period-key frame; they carry key material, so the transform drops them again.
_PERIOD = "_pseudonym_period"
_IPAD = "_pseudonym_ipad"
_OPAD = "_pseudonym_opad"


class PseudonymKeyError(RuntimeError):
    """The master pseudonym key is missing or too short; the message never contains key material."""


class MasterKey:
    """The secret master key. Its repr names where it came from, never what it is."""

    __slots__ = ("_secret", "source")

    def __init__(self, secret: bytes, *, source: str) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise PseudonymKeyError(
                f"the pseudonym key from {source} is {len(secret)} bytes long; at least {MIN_KEY_BYTES} are needed"
            )
        self._secret = secret
        self.source = source

    def __repr__(self) -> str:
        return f"MasterKey(from {self.source})"

    def derived_key(self, label: str) -> bytes:
        """Return the 32-byte key derived for one use (`label`): keys of different uses share nothing."""
        return hmac.new(self._secret, label.encode(), hashlib.sha256).digest()

    def period_key(self, period_index: int) -> bytes:
        """Return the 32-byte key of one pseudonym period."""
        return self.derived_key(f"footfall/pseudonym-period/{period_index}")


def load_master_key(*, key_file: Path, environ: Mapping[str, str] | None = None) -> MasterKey:
    """Return the master key from $FOOTFALL_PSEUDONYM_KEY, else from `key_file`; raise PseudonymKeyError if neither."""
    env = os.environ if environ is None else environ
    if env.get(ENV_KEY) is not None:
        return MasterKey(env[ENV_KEY].strip().encode(), source=f"${ENV_KEY}")
    if key_file.is_file():
        return MasterKey(key_file.read_bytes().strip(), source=str(key_file))
    raise PseudonymKeyError(
        f"no pseudonym key: set ${ENV_KEY} or put a key of at least {MIN_KEY_BYTES} bytes in {key_file} "
        "(`make run` creates a development key there)"
    )


def create_dev_key(key_file: Path) -> bool:
    """Create a random development key in `key_file` unless it exists; return True when it was created.

    Only the local `make run` calls this: production must bring its own key, and a missing key stays an error.
    """
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return True


def period_index(day: dt.date, *, period_days: int) -> int:
    """Return the number of the pseudonym period local date `day` falls in (periods count from Monday 1970-01-05)."""
    return (day - _EPOCH).days // period_days


def period_start(index: int, *, period_days: int) -> dt.date:
    """Return the first local date of pseudonym period `index` (a Monday when `period_days` is a multiple of 7)."""
    return _EPOCH + dt.timedelta(days=index * period_days)


def periods_of_utc_dates(dates: Iterable[dt.date], *, period_days: int) -> list[int]:
    """Return the periods the events of UTC `dates` can fall in: an event of UTC date d has local date d-1, d or d+1."""
    return sorted(
        {period_index(d + dt.timedelta(days=shift), period_days=period_days) for d in dates for shift in (-1, 0, 1)}
    )


def period_index_col(day: Column | str, *, period_days: int) -> Column:
    """Return the pseudonym period of a local date column, as in `period_index`."""
    unix_day = F.unix_date(F.col(day) if isinstance(day, str) else day)
    return F.floor((unix_day - F.lit(_EPOCH_UNIX_DAY)) / F.lit(period_days)).cast("int")


def period_start_col(day: Column | str, *, period_days: int) -> Column:
    """Return the first local date of the pseudonym period of a local date column."""
    index = period_index_col(day, period_days=period_days)
    return F.date_from_unix_date(index * F.lit(period_days) + F.lit(_EPOCH_UNIX_DAY))


def period_keys_df(spark: SparkSession, *, key: MasterKey, periods: Iterable[int]) -> DataFrame:
    """Return one row per period with the HMAC inner and outer padded keys, for `with_pseudo_id` to join.

    The keys travel as data, not as literals, so they never show in a query plan, the UI or an error message.
    """
    rows = []
    for index in sorted(set(periods)):
        padded = key.period_key(index).ljust(_SHA256_BLOCK, b"\0")
        ipad = bytearray(b ^ 0x36 for b in padded)
        opad = bytearray(b ^ 0x5C for b in padded)
        rows.append((index, ipad, opad))
    schema = T.StructType(
        [
            T.StructField(_PERIOD, T.IntegerType(), False),
            T.StructField(_IPAD, T.BinaryType(), False),
            T.StructField(_OPAD, T.BinaryType(), False),
        ]
    )
    return spark.createDataFrame(rows, schema)


def hmac_sha256_hex(message: Column, *, ipad: Column, opad: Column) -> Column:
    """Return hex HMAC-SHA256 (RFC 2104) of a string column from pre-padded keys, with Spark built-ins only."""
    inner = F.unhex(F.sha2(F.concat(ipad, F.encode(message, "UTF-8")), 256))
    return F.sha2(F.concat(opad, inner), 256)


def with_pseudo_id(
    df: DataFrame,
    *,
    keys_df: DataFrame,
    period_days: int,
    date_col: str = S.EVENT_DATE,
    msisdn_col: str = S.MSISDN,
) -> DataFrame:
    """Replace `msisdn_col` by `pseudo_id` under the key of the period of each row's `date_col` (null msisdn: null).

    `date_col` must hold the row's LOCAL date: ingest passes the event's local date, the subscriber dimension and
    `forget` pass period starts (a period start is its own local date). `keys_df` must hold every period met.
    """
    with_period = df.withColumn(_PERIOD, period_index_col(date_col, period_days=period_days))
    joined = with_period.join(F.broadcast(keys_df), on=_PERIOD, how="left")
    pseudo = hmac_sha256_hex(F.col(msisdn_col), ipad=F.col(_IPAD), opad=F.col(_OPAD))
    return joined.withColumn(S.PSEUDO_ID, pseudo).drop(msisdn_col, _PERIOD, _IPAD, _OPAD)


def key_fingerprint(key: MasterKey) -> str:
    """Return a short fingerprint of the master key (an HMAC of a constant): pseudonyms change when it changes."""
    return hmac.new(key._secret, b"footfall/key-fingerprint", hashlib.sha256).hexdigest()[:16]
