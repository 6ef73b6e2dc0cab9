#!/usr/bin/python3
"""Test driver: librdkafka (confluent_kafka) driven from the command line.

Mirrors test/helpers/java/KopKafkaDriver.java: same commands, flags and JSON-lines output, so the
TypeScript side (test/helpers/clients/python.ts) treats both alike. Diagnostics go to stderr.
Exit codes: 0 ok, 1 an operation (or an item of it) failed, 2 usage error,
3 consume timed out before --max-records records arrived.

Run with /usr/bin/python3 (Debian's python3-confluent-kafka imports only there).

Differences from the Java driver, from what the Python client (1.7) offers:
  - describe-cluster / list-topics / describe-topics come from a Metadata request: topicId is
    null, `internal` is whether the name starts with "__".
  - list-offsets uses the consumer's watermark offsets / offsets_for_times; no max-timestamp.
  - list-group-offsets needs --topic.
  - --config takes librdkafka property names.
"""
import base64
import json
import sys
import time

try:
    import confluent_kafka
    from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewPartitions, NewTopic
except ImportError as e:  # pragma: no cover
    sys.stderr.write("error: confluent_kafka is not importable (%s); install Debian's python3-confluent-kafka "
                     "and run with /usr/bin/python3 (or run .ci/run)\n" % e)
    sys.exit(1)

FLAGS = {"--commit", "--until-end", "--from-latest", "--internal", "--all", "--help"}


class UsageError(Exception):
    pass


class Args:
    def __init__(self, argv):
        if not argv:
            raise UsageError("missing command")
        self.command = argv[0]
        self.opts = {}
        i = 1
        while i < len(argv):
            a = argv[i]
            if not a.startswith("--"):
                raise UsageError("unexpected argument: " + a)
            if a in FLAGS:
                name, value = a, "true"
            elif "=" in a:
                name, value = a.split("=", 1)
            else:
                if i + 1 >= len(argv):
                    raise UsageError("missing value for " + a)
                name, value = a, argv[i + 1]
                i += 1
            self.opts.setdefault(name, []).append(value)
            i += 1

    def get(self, name, default=None):
        v = self.opts.get(name)
        return v[-1] if v else default

    def required(self, name):
        v = self.get(name)
        if v is None:
            raise UsageError("%s needs %s" % (self.command, name))
        return v

    def all(self, name):
        return self.opts.get(name, [])

    def flag(self, name):
        v = self.get(name)
        return v is not None and v != "false"


def out(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def err_name(e):
    if isinstance(e, KafkaException) and e.args and isinstance(e.args[0], KafkaError):
        return e.args[0].name(), e.args[0].str()
    if isinstance(e, KafkaError):
        return e.name(), e.str()
    return type(e).__name__, str(e)


def error_obj(e, **extra):
    name, msg = err_name(e)
    o = {"error": name, "message": msg}
    o.update(extra)
    return o


def jwt_claims(token):
    parts = token.split(".")
    if len(parts) < 2:
        return {}
    p = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        return json.loads(base64.urlsafe_b64decode(p.encode("ascii")))
    except Exception:
        return {}


def client_conf(a):
    c = {
        "bootstrap.servers": a.required("--bootstrap"),
        "security.protocol": a.get("--security-protocol", "PLAINTEXT").upper(),
        "socket.timeout.ms": int(a.get("--request-timeout-ms", "15000")),
        "error_cb": lambda e: sys.stderr.write("client error: %s\n" % e),
    }
    if a.get("--client-id"):
        c["client.id"] = a.get("--client-id")
    proto = c["security.protocol"]
    if proto.startswith("SASL"):
        mech = a.get("--sasl-mechanism", "OAUTHBEARER" if a.get("--token") else "PLAIN").upper()
        c["sasl.mechanisms"] = mech
        if mech in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            c["sasl.username"] = a.required("--username")
            c["sasl.password"] = a.required("--password")
        elif mech == "OAUTHBEARER":
            token = a.required("--token")
            claims = jwt_claims(token)
            exp = claims.get("exp")
            expiry = float(exp) if isinstance(exp, (int, float)) else time.time() + 3600

            def oauth_cb(_config, token=token, expiry=expiry):
                return token, expiry

            c["oauth_cb"] = oauth_cb
        else:
            raise UsageError("unsupported --sasl-mechanism " + mech)
    if proto.endswith("SSL"):
        if a.get("--ca-pem"):
            c["ssl.ca.location"] = a.get("--ca-pem")
        if a.get("--cert-pem"):
            c["ssl.certificate.location"] = a.get("--cert-pem")
            c["ssl.key.location"] = a.required("--key-pem")
        c["ssl.endpoint.identification.algorithm"] = "https" if a.flag("--verify-hostname") else "none"
    return c


def apply_config(a, c):
    for kv in a.all("--config"):
        if "=" not in kv:
            raise UsageError("--config needs KEY=VALUE, got " + kv)
        k, v = kv.split("=", 1)
        c[k] = v
    return c


def poll_events(client, seconds=0.0):
    """Admin/producer clients need polling to serve oauth_cb and error callbacks."""
    client.poll(seconds)


def serve_oauth(client, conf):
    """librdkafka asks for the OAUTHBEARER token through an event that only poll() serves: serve it
    right after creating a client, before any call that needs a connection."""
    if "oauth_cb" in conf:
        client.poll(0)
    return client


def b(s):
    return None if s is None else s.encode("utf-8")


def bytes_field(rec, name):
    v = rec.get(name + "B64")
    if v is not None:
        return base64.b64decode(v)
    v = rec.get(name)
    return None if v is None else v.encode("utf-8")


def pad(s, size):
    raw = s.encode("utf-8")
    if size <= len(raw):
        return raw
    return raw + bytes(ord("a") + (i % 26) for i in range(len(raw), size))


# ------------------------------------------------------------------ produce

def produce(a):
    topic = a.required("--topic")
    c = client_conf(a)
    c["acks"] = a.get("--acks", "all")
    c["enable.idempotence"] = a.get("--idempotence", "false") == "true"
    c["compression.type"] = a.get("--compression", "none")
    c["linger.ms"] = int(a.get("--linger-ms", "5"))
    if a.get("--batch-size"):
        c["batch.size"] = int(a.get("--batch-size"))
    if not c["enable.idempotence"]:
        c["max.in.flight.requests.per.connection"] = 1
    apply_config(a, c)
    fixed_partition = a.get("--partition")

    records = []
    if a.get("--count") is not None:
        size = int(a.get("--value-size", "0"))
        for i in range(int(a.get("--count"))):
            records.append({"topic": topic, "key": b("key-%d" % i), "value": pad("value-%d" % i, size),
                            "headers": None, "timestamp": None,
                            "partition": None if fixed_partition is None else int(fixed_partition)})
    else:
        for n, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except ValueError as e:
                raise UsageError("stdin line %d is not JSON: %s" % (n, e))
            headers = None
            if r.get("headers") is not None:
                headers = [(h["key"], bytes_field(h, "value")) for h in r["headers"]]
            part = r.get("partition")
            if part is None and fixed_partition is not None:
                part = int(fixed_partition)
            records.append({"topic": r.get("topic") or topic, "key": bytes_field(r, "key"),
                            "value": bytes_field(r, "value"), "headers": headers,
                            "timestamp": r.get("timestamp"), "partition": part})

    results = [None] * len(records)
    producer = serve_oauth(Producer(c), c)

    def make_cb(i):
        def cb(error, msg):
            if error is not None:
                results[i] = error_obj(error, index=i)
            else:
                ts_type, ts = msg.timestamp()
                results[i] = {"index": i, "topic": msg.topic(), "partition": msg.partition(),
                              "offset": msg.offset(), "timestamp": ts}
        return cb

    for i, r in enumerate(records):
        kwargs = {"key": r["key"], "value": r["value"], "on_delivery": make_cb(i)}
        if r["partition"] is not None:
            kwargs["partition"] = r["partition"]
        if r["headers"] is not None:
            kwargs["headers"] = r["headers"]
        if r["timestamp"] is not None:
            kwargs["timestamp"] = int(r["timestamp"])
        while True:
            try:
                producer.produce(r["topic"], **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
            except Exception as e:  # invalid argument etc.
                results[i] = error_obj(e, index=i)
                break
        producer.poll(0)
    timeout = float(a.get("--timeout-ms", "60000")) / 1000.0
    remaining = producer.flush(timeout)
    failures = 0
    for i, res in enumerate(results):
        if res is None:
            res = {"index": i, "error": "_TIMED_OUT", "message": "no delivery report within --timeout-ms"}
        if "error" in res:
            failures += 1
        out(res)
    if failures:
        sys.stderr.write("error: %d of %d records failed (%d still queued)\n" % (failures, len(records), remaining))
    return 1 if failures else 0


# ------------------------------------------------------------------ consume

def enc(v, base64_out):
    if v is None:
        return None
    return base64.b64encode(v).decode("ascii") if base64_out else v.decode("utf-8", "replace")


TS_TYPES = {0: "NoTimestampType", 1: "CreateTime", 2: "LogAppendTime"}


def consume(a):
    topic = a.required("--topic")
    group = a.get("--group")
    base64_out = a.get("--encoding", "utf8") == "base64"
    max_records = int(a.get("--max-records", "-1"))
    timeout_ms = int(a.get("--timeout-ms", "30000"))
    until_end = a.flag("--until-end")
    if until_end and group is not None:
        raise UsageError("--until-end works with assigned partitions only (no --group)")
    c = client_conf(a)
    # the Python client needs a group.id even for assign(); it is not joined then
    c["group.id"] = group if group is not None else "kop-driver-assign-%d" % int(time.time() * 1000)
    c["enable.auto.commit"] = False
    c["enable.auto.offset.store"] = False
    c["auto.offset.reset"] = "latest" if a.flag("--from-latest") else "earliest"
    c["isolation.level"] = a.get("--isolation-level", "read_uncommitted")
    c["enable.partition.eof"] = until_end
    apply_config(a, c)

    deadline = time.time() + timeout_ms / 1000.0
    count = 0
    consumer = serve_oauth(Consumer(c), c)
    try:
        end_offsets = {}
        if group is not None:
            consumer.subscribe([topic])
        else:
            parts = [int(p) for p in a.all("--partition")]
            if not parts:
                md = consumer.list_topics(topic, timeout=max(1.0, timeout_ms / 1000.0))
                tm = md.topics.get(topic)
                if tm is None or tm.error is not None or not tm.partitions:
                    raise RuntimeError("topic %s has no partitions (does it exist?) %s" % (topic, tm.error if tm else ""))
                parts = sorted(tm.partitions.keys())
            off = a.get("--offset", "end" if a.flag("--from-latest") else "beginning")
            if off == "beginning":
                start = confluent_kafka.OFFSET_BEGINNING
            elif off == "end":
                start = confluent_kafka.OFFSET_END
            else:
                start = int(off)
            tps = [TopicPartition(topic, p, start) for p in parts]
            if until_end:
                for p in parts:
                    low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                    end_offsets[p] = high
            consumer.assign(tps)
        done = max_records == 0
        at_end = set()
        while not done:
            if until_end and all((p in at_end) or end_offsets[p] <= 0 for p in end_offsets):
                break
            left = deadline - time.time()
            if left <= 0:
                break
            msg = consumer.poll(min(left, 0.5))
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    p = msg.partition()
                    if p in end_offsets and msg.offset() >= end_offsets[p]:
                        at_end.add(p)
                    continue
                raise KafkaException(msg.error())
            if until_end:
                end = end_offsets.get(msg.partition())
                if end is not None and msg.offset() >= end:
                    at_end.add(msg.partition())
                    continue
                if end is not None and msg.offset() + 1 >= end:
                    at_end.add(msg.partition())
            ts_type, ts = msg.timestamp()
            headers = msg.headers() or []
            rec = {
                "topic": msg.topic(),
                "partition": msg.partition(),
                "offset": msg.offset(),
                "timestamp": ts,
                "timestampType": TS_TYPES.get(ts_type, str(ts_type)),
                "key": enc(msg.key(), base64_out),
                "value": enc(msg.value(), base64_out),
                "headers": [{"key": k, "value": enc(v, base64_out)} for k, v in headers],
            }
            leader_epoch = getattr(msg, "leader_epoch", None)
            if callable(leader_epoch):
                le = leader_epoch()
                if le is not None and le >= 0:
                    rec["leaderEpoch"] = le
            out(rec)
            if group is not None:
                consumer.store_offsets(message=msg)
            count += 1
            if 0 <= max_records <= count:
                done = True
        if group is not None and a.flag("--commit") and count > 0:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    if max_records > 0 and count < max_records:
        sys.stderr.write("error: timeout after %d ms with %d of %d records\n" % (timeout_ms, count, max_records))
        return 3
    return 0


# ------------------------------------------------------------------ admin

def admin(a):
    c = apply_config(a, client_conf(a))
    return serve_oauth(AdminClient(c), c)


def timeout_s(a):
    return int(a.get("--request-timeout-ms", "15000")) / 1000.0 + 5.0


def metadata(a, topic=None):
    ac = admin(a)
    poll_events(ac)
    if topic is None:
        return ac.list_topics(timeout=timeout_s(a))
    return ac.list_topics(topic=topic, timeout=timeout_s(a))


def node_obj(bm):
    return {"id": bm.id, "host": bm.host, "port": bm.port, "rack": None}


def describe_cluster(a):
    md = metadata(a)
    brokers = sorted(md.brokers.values(), key=lambda x: x.id)
    ctrl = md.brokers.get(md.controller_id)
    out({"clusterId": md.cluster_id, "controller": node_obj(ctrl) if ctrl else None,
         "nodes": [node_obj(x) for x in brokers]})
    return 0


def topics_arg(a):
    t = a.all("--topic")
    if not t:
        raise UsageError(a.command + " needs --topic")
    return t


def per_item(futures, ok_field):
    failures = 0
    for name in sorted(futures):
        try:
            futures[name].result()
            out({"topic": name, ok_field: True})
        except Exception as e:
            failures += 1
            o = error_obj(e, topic=name, **{ok_field: False})
            sys.stderr.write("error: topic %s: %s: %s\n" % (name, o["error"], o["message"]))
            out(o)
    return 1 if failures else 0


def create_topics(a):
    parts = int(a.get("--partitions", "1"))
    rf = int(a.get("--replication-factor", "1"))
    configs = {}
    for kv in a.all("--topic-config"):
        if "=" not in kv:
            raise UsageError("--topic-config needs KEY=VALUE")
        k, v = kv.split("=", 1)
        configs[k] = v
    ac = admin(a)
    fs = ac.create_topics([NewTopic(t, num_partitions=parts, replication_factor=rf, config=configs)
                           for t in topics_arg(a)], request_timeout=timeout_s(a))
    return per_item(fs, "created")


def delete_topics(a):
    ac = admin(a)
    return per_item(ac.delete_topics(topics_arg(a), request_timeout=timeout_s(a)), "deleted")


def create_partitions(a):
    total = int(a.required("--total"))
    ac = admin(a)
    return per_item(ac.create_partitions([NewPartitions(t, total) for t in topics_arg(a)],
                                         request_timeout=timeout_s(a)), "increased")


def list_topics(a):
    md = metadata(a)
    internal = a.flag("--internal")
    for name in sorted(md.topics):
        is_internal = name.startswith("__")
        if is_internal and not internal:
            continue
        out({"topic": name, "topicId": None, "internal": is_internal})
    return 0


def describe_topics(a):
    failures = 0
    for t in sorted(topics_arg(a)):
        md = metadata(a, t)
        tm = md.topics.get(t)
        if tm is None or tm.error is not None:
            failures += 1
            e = tm.error if tm is not None else KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)
            out(error_obj(e, topic=t))
            continue
        partitions = [{"partition": p.id, "leader": p.leader, "replicas": list(p.replicas), "isr": list(p.isrs)}
                      for p in sorted(tm.partitions.values(), key=lambda x: x.id)]
        out({"topic": t, "topicId": None, "internal": t.startswith("__"), "partitions": partitions})
    return 1 if failures else 0


def list_offsets(a):
    spec = a.get("--spec", "latest")
    if spec == "max-timestamp":
        raise UsageError("the Python client (confluent_kafka 1.7) has no max-timestamp offset lookup")
    c = client_conf(a)
    c["group.id"] = "kop-driver-offsets"
    c["enable.auto.commit"] = False
    apply_config(a, c)
    consumer = serve_oauth(Consumer(c), c)
    failures = 0
    try:
        for t in topics_arg(a):
            parts = [int(p) for p in a.all("--partition")]
            if not parts:
                md = consumer.list_topics(t, timeout=timeout_s(a))
                tm = md.topics.get(t)
                if tm is None or tm.error is not None:
                    failures += 1
                    out(error_obj(tm.error if tm else KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART), topic=t, partition=-1))
                    continue
                parts = sorted(tm.partitions.keys())
            if spec in ("earliest", "latest"):
                for p in parts:
                    try:
                        low, high = consumer.get_watermark_offsets(TopicPartition(t, p), timeout=timeout_s(a))
                        out({"topic": t, "partition": p, "offset": low if spec == "earliest" else high, "timestamp": -1})
                    except Exception as e:
                        failures += 1
                        out(error_obj(e, topic=t, partition=p))
            else:
                try:
                    ts = int(spec)
                except ValueError:
                    raise UsageError("--spec must be earliest|latest|<timestamp ms>, got " + spec)
                res = consumer.offsets_for_times([TopicPartition(t, p, ts) for p in parts], timeout=timeout_s(a))
                for tp in res:
                    if tp.error is not None:
                        failures += 1
                        out(error_obj(tp.error, topic=t, partition=tp.partition))
                    else:
                        # no timestamp in the Python result; -1 offset means no such record
                        out({"topic": t, "partition": tp.partition, "offset": tp.offset, "timestamp": -1})
    finally:
        consumer.close()
    return 1 if failures else 0


def describe_configs(a):
    resources = [ConfigResource("topic", t) for t in a.all("--topic")]
    resources += [ConfigResource("broker", str(x)) for x in a.all("--broker")]
    if not resources:
        raise UsageError("describe-configs needs --topic or --broker")
    show_all = a.flag("--all")
    ac = admin(a)
    fs = ac.describe_configs(resources, request_timeout=timeout_s(a))
    failures = 0
    for res in resources:
        rtype = "topic" if res.restype == ConfigResource.Type.TOPIC else "broker"
        try:
            entries = fs[res].result()
            configs = {}
            for name in sorted(entries):
                e = entries[name]
                if not show_all and e.is_default:
                    continue
                src = e.source
                if not hasattr(src, "name"):
                    try:
                        src = ConfigSource(src)
                    except ValueError:
                        pass
                src_name = src.name if hasattr(src, "name") else str(src)
                configs[name] = {"value": e.value, "source": src_name,
                                 "readOnly": bool(e.is_read_only), "sensitive": bool(e.is_sensitive)}
            out({"type": rtype, "name": res.name, "configs": configs})
        except Exception as e:
            failures += 1
            out(error_obj(e, type=rtype, name=res.name))
    return 1 if failures else 0


def list_groups(a):
    ac = admin(a)
    groups = ac.list_groups(timeout=timeout_s(a))
    for g in sorted(groups, key=lambda x: x.id):
        out({"groupId": g.id, "type": "Classic" if g.protocol_type == "consumer" else None,
             "state": g.state, "protocol": g.protocol_type})
    return 0


def list_group_offsets(a):
    group = a.required("--group")
    topic = a.get("--topic")
    if topic is None:
        raise UsageError("list-group-offsets needs --topic with the Python client")
    c = client_conf(a)
    c["group.id"] = group
    c["enable.auto.commit"] = False
    apply_config(a, c)
    consumer = serve_oauth(Consumer(c), c)
    try:
        md = consumer.list_topics(topic, timeout=timeout_s(a))
        tm = md.topics.get(topic)
        parts = sorted(tm.partitions.keys()) if tm is not None and tm.error is None else []
        committed = consumer.committed([TopicPartition(topic, p) for p in parts], timeout=timeout_s(a))
        for tp in committed:
            if tp.offset < 0:
                continue
            out({"group": group, "topic": tp.topic, "partition": tp.partition, "offset": tp.offset,
                 "metadata": getattr(tp, "metadata", None)})
    finally:
        consumer.close()
    return 0


COMMANDS = {
    "produce": produce,
    "consume": consume,
    "describe-cluster": describe_cluster,
    "create-topics": create_topics,
    "delete-topics": delete_topics,
    "create-partitions": create_partitions,
    "list-topics": list_topics,
    "describe-topics": describe_topics,
    "list-offsets": list_offsets,
    "describe-configs": describe_configs,
    "list-groups": list_groups,
    "list-group-offsets": list_group_offsets,
}


def main(argv):
    try:
        a = Args(argv)
        if a.flag("--help") or a.command == "help":
            sys.stderr.write(__doc__)
            return 0
        fn = COMMANDS.get(a.command)
        if fn is None:
            raise UsageError("unknown command: " + a.command)
        return fn(a)
    except UsageError as e:
        sys.stderr.write("usage error: %s\n" % e)
        return 2
    except Exception as e:
        name, msg = err_name(e)
        sys.stderr.write("error: %s: %s\n" % (name, msg))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
