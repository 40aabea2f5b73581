"""Reads netcap's Parquet output with pyarrow, DuckDB and Spark, and compares it with
`netcap dump --json` of the same records (run by the e2e tests in tests/e2e/parquet.rs).

  parquet_check.py compare PARQUET_DIR NCAP_DIR NETCAP
      Every <Type>.ncap.zst of NCAP_DIR against <Type>.parquet of PARQUET_DIR, read once with
      pyarrow and once with DuckDB: same row count, same columns, every value equal. Prints one
      line per type and a total; exits 1 on the first difference.
  parquet_check.py bytes-by-app TABLE_DIR ENGINE
      Sum of total_size per application_proto of the Connection records in the Hive-partitioned
      TABLE_DIR (<out>/Connection), read as one table by ENGINE (spark or duckdb); prints JSON.

Value conventions compared (see host/src/parquet_out/columns.rs): timestamps are ns since the
epoch (dump prints the integer), bytes are hex in dump, an unset nested message is null in
Parquet and its default object in dump.
"""

import json
import math
import os
import subprocess
import sys
import time


def to_int_timestamps(t):
    """The type `t` with every timestamp replaced by int64 (ns since the epoch)."""
    import pyarrow as pa

    if pa.types.is_timestamp(t):
        return pa.int64()
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, to_int_timestamps(f.type), f.nullable) for f in t])
    if pa.types.is_list(t):
        v = t.value_field
        return pa.list_(pa.field(v.name, to_int_timestamps(v.type), v.nullable))
    return t


def rows_of(table):
    """The table's rows as dicts, timestamps as integers."""
    import pyarrow as pa

    schema = pa.schema([pa.field(f.name, to_int_timestamps(f.type), f.nullable) for f in table.schema])
    return table.cast(schema).to_pylist()


def is_default(v):
    if isinstance(v, dict):
        return all(is_default(x) for x in v.values())
    return v in (None, 0, "", False, []) or (isinstance(v, float) and v == 0.0)


def same(p, j, path, diffs):
    """Whether Parquet value `p` equals dump's JSON value `j`; differences go to `diffs`."""
    if isinstance(p, bytes):
        ok = p.hex() == j
    elif p is None:
        ok = j is None or (isinstance(j, dict) and is_default(j))
    elif isinstance(p, dict):
        ok = isinstance(j, dict) and list(p.keys()) == list(j.keys())
        if ok:
            return all(same(p[k], j[k], f"{path}.{k}", diffs) for k in p)
    elif isinstance(p, list):
        ok = isinstance(j, list) and len(p) == len(j)
        if ok:
            return all(same(a, b, f"{path}[{i}]", diffs) for i, (a, b) in enumerate(zip(p, j)))
    elif isinstance(p, float):
        ok = (j is None and not math.isfinite(p)) or (j is not None and float(j) == p)
    elif isinstance(p, bool):
        ok = j is p
    else:
        ok = p == j
    if not ok:
        diffs.append(f"{path}: parquet {p!r} != dump {j!r}")
    return ok


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def dump_json(netcap, path):
    out = subprocess.run([netcap, "dump", "--json", "-r", path], check=True, capture_output=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


def compare_rows(engine, name, rows, expected):
    if len(rows) != len(expected):
        sys.exit(f"{engine} {name}: {len(rows)} rows, dump has {len(expected)}")
    values = 0
    for i, (p, j) in enumerate(zip(rows, expected)):
        if list(p.keys()) != list(j.keys()):
            sys.exit(f"{engine} {name} row {i}: columns {list(p.keys())} != dump's {list(j.keys())}")
        diffs = []
        if not same(p, j, f"{name}[{i}]", diffs):
            sys.exit(f"{engine} {name}: " + "; ".join(diffs[:5]))
        values += len(p)
    return values


def compare(parquet_dir, ncap_dir, netcap):
    import duckdb
    import pyarrow.parquet as pq

    names = sorted(n[: -len(".ncap.zst")] for n in os.listdir(ncap_dir) if n.endswith(".ncap.zst"))
    parquet_names = sorted(n[: -len(".parquet")] for n in os.listdir(parquet_dir) if n.endswith(".parquet"))
    if names != parquet_names:
        sys.exit(f"record types differ: ncap {names}, parquet {parquet_names}")
    total_rows = total_values = 0
    for name in names:
        expected = dump_json(netcap, os.path.join(ncap_dir, name + ".ncap.zst"))
        path = os.path.join(parquet_dir, name + ".parquet")
        values = compare_rows("pyarrow", name, rows_of(pq.read_table(path)), expected)
        con = duckdb.connect()
        rel = con.sql(f"SELECT * FROM read_parquet({sql_str(path)})")
        table = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
        compare_rows("duckdb", name, rows_of(table), expected)
        con.close()
        print(f"{name}: {len(expected)} rows, {values} values")
        total_rows += len(expected)
        total_values += values
    print(f"total: {len(names)} types, {total_rows} rows, {total_values} values, each read by pyarrow and DuckDB")


def bytes_by_app(table_dir, engine):
    start = time.time()
    if engine == "spark":
        from pyspark.sql import SparkSession, functions as F

        spark = (
            SparkSession.builder.master("local[2]")
            .appName("netcap-parquet-test")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            # Spark has no nanosecond timestamps: it reads them as ns integers.
            .config("spark.sql.legacy.parquet.nanosAsLong", "true")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        df = spark.read.parquet(table_dir)
        rows = df.groupBy("application_proto").agg(F.sum("total_size").alias("bytes")).collect()
        result = {r["application_proto"]: int(r["bytes"]) for r in rows}
        dates = sorted(str(r["date"]) for r in df.select("date").distinct().collect())
        count = df.count()
        spark.stop()
    else:
        import duckdb

        con = duckdb.connect()
        glob = os.path.join(table_dir, "**", "*.parquet")
        q = "SELECT application_proto, sum(total_size) FROM read_parquet(?, hive_partitioning = true) GROUP BY 1"
        result = {a: int(b) for a, b in con.execute(q, [glob]).fetchall()}
        q = "SELECT DISTINCT CAST(date AS VARCHAR) FROM read_parquet(?, hive_partitioning = true) ORDER BY 1"
        dates = [d for (d,) in con.execute(q, [glob]).fetchall()]
        (count,) = con.execute("SELECT count(*) FROM read_parquet(?)", [glob]).fetchone()
    print(json.dumps({"bytes": result, "dates": dates, "rows": count, "seconds": round(time.time() - start, 1)}))


def main():
    if sys.argv[1:2] == ["compare"] and len(sys.argv) == 5:
        compare(*sys.argv[2:5])
    elif sys.argv[1:2] == ["bytes-by-app"] and len(sys.argv) == 4:
        bytes_by_app(*sys.argv[2:4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
