"""
A long-running group member for the consumer group e2e tests: a librdkafka consumer
(confluent_kafka) subscribed to one topic, printing JSON lines on stdout, like
GroupConsumer.java:
  {"event":"ready"} / {"event":"assignment","partitions":[...]} /
  {"event":"record","partition":p,"offset":o,"value":"..."} /
  {"event":"committed","offsets":{"p":next}} / {"event":"commit-failed","error":"..."} / {"event":"closed"}
Records are printed before the synchronous commit of their batch. "close" (or EOF) on stdin
closes the consumer cleanly (LeaveGroup).

Usage: group_consumer.py --bootstrap H:P --group G --topic T [--assignor range|roundrobin]
       [--session-timeout-ms MS] [--heartbeat-interval-ms MS] [--client-id ID] [--instance-id ID]
       [--group-protocol classic|consumer] [--remote-assignor uniform|range]
With the consumer protocol (KIP-848, librdkafka 2.10+) the assignor, session timeout and
heartbeat interval are the coordinator's, so those flags are not passed to librdkafka.
"""
import argparse
import json
import sys
import threading

from confluent_kafka import Consumer, KafkaException, TopicPartition


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--assignor", default="range")
    ap.add_argument("--session-timeout-ms", default="6000")
    ap.add_argument("--heartbeat-interval-ms", default="500")
    ap.add_argument("--client-id", default="kop-group-python")
    ap.add_argument("--instance-id")
    ap.add_argument("--group-protocol", default="classic")
    ap.add_argument("--remote-assignor")
    args = ap.parse_args()

    conf = {
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "client.id": args.client_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": int(args.session_timeout_ms),
        "heartbeat.interval.ms": int(args.heartbeat_interval_ms),
        "partition.assignment.strategy": args.assignor,
        "topic.metadata.refresh.interval.ms": 2000,
    }
    if args.instance_id:
        conf["group.instance.id"] = args.instance_id
    if args.group_protocol == "consumer":
        conf["group.protocol"] = "consumer"
        for key in ("session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy"):
            del conf[key]
        if args.remote_assignor:
            conf["group.remote.assignor"] = args.remote_assignor
    consumer = Consumer(conf)
    owned = set()

    def print_assignment():
        emit({"event": "assignment", "partitions": sorted(owned)})

    def on_assign(c, partitions):
        owned.update(p.partition for p in partitions)
        print_assignment()

    def on_revoke(c, partitions):
        owned.difference_update(p.partition for p in partitions)
        print_assignment()

    def on_lost(c, partitions):
        owned.difference_update(p.partition for p in partitions)
        print_assignment()

    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)

    stop = threading.Event()

    def read_stdin():
        for line in sys.stdin:
            if line.strip() == "close":
                break
        stop.set()

    threading.Thread(target=read_stdin, daemon=True).start()
    emit({"event": "ready"})

    while not stop.is_set():
        msgs = consumer.consume(num_messages=20, timeout=0.2)
        nxt = {}
        for m in msgs:
            if m.error():
                continue
            value = m.value().decode("utf-8") if m.value() is not None else None
            emit({"event": "record", "partition": m.partition(), "offset": m.offset(), "value": value})
            nxt[m.partition()] = m.offset() + 1
        if nxt:
            try:
                consumer.commit(offsets=[TopicPartition(args.topic, p, o) for p, o in nxt.items()], asynchronous=False)
                emit({"event": "committed", "offsets": {str(p): o for p, o in nxt.items()}})
            except KafkaException as e:
                emit({"event": "commit-failed", "error": str(e)})
    consumer.close()
    emit({"event": "closed"})


if __name__ == "__main__":
    main()
