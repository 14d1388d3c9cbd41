"""What `kerasdml run` needs: its arguments, the Spark arguments every DML-running command shares,
and running the script. The command line itself (its list of commands, --help, --version, error
reporting) belongs to kerasdml.compiler.cli.

    kerasdml run SCRIPT.dml [-nvargs name=value ...] [-args v1 v2 ...] [--stats] [--debug]
                 [--master local[2]|spark://host:7077] [--conf key=value ...]
                 [--exec singlenode|spark|hybrid] [--explain]
"""
from __future__ import annotations

import argparse
import re
import sys

# ---- `kerasdml run` -------------------------------------------------------------------------

_INT = re.compile(r"[+-]?\d+")


def parse_argument_value(text: str):
    """A command-line value typed as SystemDS types it: int, double, boolean or string."""
    if _INT.fullmatch(text):
        return int(text)
    if text in ("TRUE", "FALSE"):
        return text == "TRUE"
    try:
        return float(text)
    except ValueError:
        pass
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def script_arguments(nvargs: list[str] | None, args: list[str] | None) -> dict:
    """`-nvargs a=1 b=x` binds $a and $b; `-args 5 x` binds $1 and $2."""
    bound = {}
    for item in nvargs or []:
        name, equals, value = item.partition("=")
        if not equals or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
            raise SystemExit(f"kerasdml: error: -nvargs expects name=value pairs, got {item!r}")
        bound[name] = parse_argument_value(value)
    for position, value in enumerate(args or [], 1):
        bound[str(position)] = parse_argument_value(value)
    return bound


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("script", nargs="?", help="the DML script to run")
    parser.add_argument("-f", dest="script_file", metavar="SCRIPT", help="the DML script (SystemDS style)")
    parser.add_argument("-nvargs", nargs="+", metavar="NAME=VALUE", help="named arguments, read as $NAME")
    parser.add_argument("-args", nargs="+", metavar="VALUE", help="positional arguments, read as $1, $2, ...")
    parser.add_argument("--stats", action="store_true", help="print run time and the heaviest operations")
    parser.add_argument("--precision", choices=["double", "single"], default="double",
                        help="floating-point precision of matrices (default: double, as DML)")
    add_spark_arguments(parser)


def add_spark_arguments(parser: argparse.ArgumentParser) -> None:
    """--master, --conf, --exec and --explain; any command running DML may add them."""
    group = parser.add_argument_group("Spark")
    group.add_argument("--master", help="run on Spark: local[N], spark://host:port, ...")
    group.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                       help="a Spark setting (spark.kerasdml.* for ours); repeatable")
    group.add_argument("--exec", dest="exec_mode", choices=["singlenode", "spark", "hybrid"],
                       help="where matrix operations run (default: hybrid with --master, else singlenode)")
    group.add_argument("--explain", action="store_true", help="print where each matrix operation runs")


def spark_options(options: argparse.Namespace) -> dict:
    """The run_file/run_string keywords (spark, exec_mode, explain) for parsed Spark arguments."""
    conf = {}
    for item in options.conf:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise SystemExit(f"kerasdml: error: --conf expects key=value, got {item!r}")
        conf[key] = value
    if options.exec_mode in ("spark", "hybrid") and not options.master:
        raise SystemExit(f"kerasdml: error: --exec {options.exec_mode} needs --master (e.g. local[2])")
    keywords = {"exec_mode": options.exec_mode, "explain": sys.stdout if options.explain else None}
    if options.master:
        from .spark.session import spark_session

        keywords["spark"] = spark_session(options.master, conf)
    return keywords


def run_script(options: argparse.Namespace) -> int:
    from .api import run_file
    from .context import Statistics

    script = options.script or options.script_file
    if not script:
        raise SystemExit("kerasdml run: error: no script given (kerasdml run SCRIPT.dml)")
    stats = Statistics() if options.stats else None
    keywords = spark_options(options)
    try:
        run_file(script, args=script_arguments(options.nvargs, options.args), stats=stats,
                 precision=options.precision, **keywords)
    finally:
        sys.stdout.flush()
        if stats is not None:
            print(stats.report(), file=sys.stderr)
    return 0
