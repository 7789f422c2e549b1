"""The ``sentinelle`` command line: demo, run, alerts, rules."""

from __future__ import annotations

import argparse
import os
import sys

from flows.broker import BrokerError
from flows.config import BATCH_SIZE


def _input_spec(s: str) -> tuple[str, str]:
    from flows.codecs import parse_input_spec

    try:
        return parse_input_spec(s)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _output_spec(s: str) -> tuple[str, str]:
    from flows.alert_formats import get_alert_format

    topic, sep, fmt = s.partition("=")
    if not topic or not sep or not fmt:
        raise argparse.ArgumentTypeError(f"{s!r}: expected TOPIC=FORMAT")
    try:
        get_alert_format(fmt)
    except (KeyError, ValueError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return topic, fmt


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sentinelle",
        description="Real-time anomaly detection on a territory's meter and sensor streams.",
    )
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="embedded broker + simulated city + the flow, alerts live",
                       description="Start the embedded broker, simulate the 24 communes of "
                       "the Metz metropolitan area with injected anomalies, run the flow, "
                       "print alerts live and a summary against the ground truth.")
    d.add_argument("--bootstrap", help="use this Kafka instead of the embedded broker")
    d.add_argument("--seed", type=int, default=42, help="simulator seed (default 42)")
    d.add_argument("--sensors", type=int, default=5, help="sensors per commune (default 5)")
    d.add_argument("--duration", type=float, default=40.0,
                   help="seconds of live simulation (default 40)")
    d.add_argument("--pace", type=float, default=8.0,
                   help="simulated steps (5 min each) per second (default 8)")
    d.add_argument("--rules", action="append", default=[], metavar="PATH",
                   help="rule pack file or directory (repeatable; default: rules/packs)")
    d.add_argument("--json", action="store_true", help="print the summary as JSON at the end")

    r = sub.add_parser("run", help="run the flow against a Kafka cluster",
                       description="Run the Sentinelle dataflow: read readings, write alerts "
                       "and dead letters. Topics are created when missing.")
    r.add_argument("--bootstrap", default=os.environ.get("SENTINELLE_BOOTSTRAP"),
                   help="Kafka bootstrap servers (or SENTINELLE_BOOTSTRAP)")
    r.add_argument("--input", action="append", type=_input_spec, metavar="TOPIC[=CODEC]",
                   help="input topic and its codec (repeatable; default readings=json)")
    r.add_argument("--alerts", default="alerts", help="alerts topic (default alerts)")
    r.add_argument("--dlq", default="readings.dlq", help="dead-letter topic")
    r.add_argument("--readings-out", metavar="TOPIC",
                   help="also write every decoded, enriched reading there (native JSON)")
    r.add_argument("--alert-format", default="native",
                   help="format on the alerts topic: native, ngsi-ld, ngsi-ld-kv, cloudevents")
    r.add_argument("--alerts-to", action="append", default=[], metavar="TOPIC=FORMAT",
                   type=_output_spec,
                   help="also write every alert to TOPIC in FORMAT (repeatable), e.g. "
                   "alerts.ngsi=ngsi-ld")
    r.add_argument("--rules", action="append", default=[], metavar="PATH",
                   help="rule pack file or directory (repeatable; default: rules/packs)")
    r.add_argument("--registry", help="sensor registry file (CSV or YAML, reloaded on change)")
    r.add_argument("--mapping", metavar="FILE",
                   help="LoRaWAN decoded-field -> kind mapping (YAML) for chirpstack/tts inputs")
    r.add_argument("--strict", action="store_true",
                   help="send readings of devices missing from the registry to the DLQ")
    r.add_argument("--from", dest="start", choices=["earliest", "latest"], default="earliest",
                   help="where to start without recovery state (default earliest: warm the "
                   "detectors on history; alert ids make the replay harmless)")
    r.add_argument("--no-tail", action="store_true", help="stop at the end of the input")
    r.add_argument("--recovery", metavar="DIR", help="Bytewax recovery directory")
    r.add_argument("--epoch", type=float, default=10.0,
                   help="seconds between snapshots (default 10)")
    r.add_argument("--partitions", type=int, default=4,
                   help="partitions of topics created by run (default 4)")
    r.add_argument("-w", "--workers", type=int, default=1, help="worker threads per process")
    r.add_argument("-i", "--process-id", type=int, help="this process's index in a cluster")
    r.add_argument("-a", "--addresses", help="host:port of every cluster process, ';'-separated")
    r.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                   help="messages per poll at most (default %(default)s)")
    r.add_argument("--placement", choices=["exchange", "partition"],
                   default=os.environ.get("SENTINELLE_PLACEMENT", "exchange"),
                   help="where the engine state lives: exchange (default; any input keying, "
                   "readings routed to their state's worker, which on input keyed by site is "
                   "the worker that reads them) or partition (processed where "
                   "read, no exchange between processes; the input must be keyed by site)")
    r.add_argument("--metrics-port", type=int, default=0,
                   help="serve Prometheus /metrics on this port (default off)")

    a = sub.add_parser("alerts", help="print the alerts topic",
                       description="Read the alerts topic from the start; one line per alert "
                       "event, or the active alerts per commune.")
    a.add_argument("--bootstrap", default=os.environ.get("SENTINELLE_BOOTSTRAP"),
                   help="Kafka bootstrap servers (or SENTINELLE_BOOTSTRAP)")
    a.add_argument("--topic", default="alerts", help="alerts topic (default alerts)")
    a.add_argument("-f", "--follow", action="store_true", help="keep waiting for new alerts")
    a.add_argument("--active", action="store_true", help="show active alerts per commune")
    a.add_argument("--commune", help="only this commune")
    a.add_argument("--json", action="store_true", help="one JSON alert per line")

    ru = sub.add_parser("rules", help="check or test rule packs",
                        description="Validate rule packs, or run their YAML test cases.")
    ru.add_argument("action", choices=["check", "test"])
    ru.add_argument("paths", nargs="*", help="pack files or directories (default rules/packs)")
    return p


def _need_bootstrap(args: argparse.Namespace) -> str:
    if not args.bootstrap:
        raise SystemExit("error: no broker: pass --bootstrap HOST:PORT or set "
                         "SENTINELLE_BOOTSTRAP (or try `sentinelle demo`)")
    return args.bootstrap


def cmd_run(args: argparse.Namespace) -> int:
    from flows import metrics
    from flows.broker import create_topics, wait_ready
    from flows.city import build_flow
    from flows.config import Config
    from flows.runner import run

    bs = _need_bootstrap(args)
    inputs = tuple(args.input or [("readings", "json")])
    cfg = Config(bootstrap=bs, inputs=inputs, alerts_topic=args.alerts, dlq_topic=args.dlq,
                 rules=tuple(args.rules), registry=args.registry, strict_registry=args.strict,
                 start=args.start, tail=not args.no_tail, batch_size=args.batch_size,
                 alert_format=args.alert_format, readings_out=args.readings_out,
                 more_alerts=tuple(args.alerts_to),
                 codec_options={c: {"mapping": args.mapping} for c in ("chirpstack", "tts")}
                 if args.mapping else {}, snapshots=bool(args.recovery),
                 placement=args.placement)
    wait_ready(bs, timeout=15)
    if args.process_id in (None, 0):
        extra = [t for t, _ in cfg.more_alerts]
        extra += [cfg.readings_out] if cfg.readings_out else []
        create_topics(bs, [*cfg.topics, cfg.alerts_topic, cfg.dlq_topic, *extra],
                      args.partitions)
    metrics.serve(args.metrics_port)
    addresses = args.addresses.split(";") if args.addresses else None
    print(f"sentinelle: reading {', '.join(f'{t} ({c})' for t, c in inputs)} from {bs}; "
          f"alerts -> {cfg.alerts_topic}, bad input -> {cfg.dlq_topic}", file=sys.stderr,
          flush=True)
    run(build_flow(cfg), workers=args.workers, process_id=args.process_id,
        addresses=addresses, epoch_s=args.epoch, recovery=args.recovery)
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    try:
        from rules.cli import main as rules_main
    except ImportError:
        print("error: rule packs are not available in this build", file=sys.stderr)
        return 2
    return rules_main([args.action, *args.paths])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "demo":
            from flows.demo import demo

            summary = demo(bootstrap=args.bootstrap, seed=args.seed, sensors=args.sensors,
                           duration=args.duration, pace=args.pace, rules=tuple(args.rules))
            if args.json:
                import json

                print(json.dumps(summary))
            return 0
        if args.cmd == "run":
            return cmd_run(args)
        if args.cmd == "alerts":
            from flows.alerts_view import main_alerts

            return main_alerts(_need_bootstrap(args), args.topic, args.follow, args.active,
                               args.commune, args.json)
        if args.cmd == "rules":
            return cmd_rules(args)
    except BrokerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
