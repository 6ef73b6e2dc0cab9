"""
confluent-kafka-python's schema registry serializers through the gateway (test/e2e/schema-registry-clients.test.ts).

Usage: sr_client.py BOOTSTRAP REGISTRY_URL NAMESPACE TOKEN TOPIC_PREFIX [CA_FILE]

Produces with Avro, JSON Schema and Protobuf serializers (auto-registration), consumes with the
matching deserializers, evolves the Avro schema under BACKWARD, tries an incompatible change, and
prints one JSON object with what happened. Kafka: SASL/PLAIN (username NAMESPACE, password
token:TOKEN); registry: HTTP Basic with the same credentials.
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")

from confluent_kafka import Consumer, Producer  # noqa: E402
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient  # noqa: E402
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer  # noqa: E402
from confluent_kafka.schema_registry.error import SchemaRegistryError  # noqa: E402
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer  # noqa: E402
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer  # noqa: E402
from confluent_kafka.serialization import MessageField, SerializationContext  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402

bootstrap, registry_url, namespace, token, prefix = sys.argv[1:6]
ca = sys.argv[6] if len(sys.argv) > 6 else None

kafka_conf = {
    "bootstrap.servers": bootstrap,
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanisms": "PLAIN",
    "sasl.username": namespace,
    "sasl.password": "token:" + token,
}
sr_conf = {"url": registry_url, "basic.auth.user.info": namespace + ":token:" + token}
if ca:
    sr_conf["ssl.ca.location"] = ca
sr = SchemaRegistryClient(sr_conf)
out = {}


def produce(topic, serializer, values):
    p = Producer(kafka_conf)
    for i, v in enumerate(values):
        p.produce(topic, key=str(i).encode(), value=serializer(v, SerializationContext(topic, MessageField.VALUE)))
    left = p.flush(30)
    if left:
        raise RuntimeError("%d messages not delivered" % left)


def consume(topic, deserializer, n):
    c = Consumer({**kafka_conf, "group.id": topic + "-g", "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got = []
    for _ in range(120):
        m = c.poll(0.5)
        if m is None:
            if len(got) >= n:
                break
            continue
        if m.error():
            raise RuntimeError(str(m.error()))
        got.append(deserializer(m.value(), SerializationContext(topic, MessageField.VALUE)))
        if len(got) >= n:
            break
    c.close()
    return got


# ---- Avro: auto-registration, consume, BACKWARD evolution, incompatible change
avro_topic = prefix + "-avro"
v1 = json.dumps({"type": "record", "name": "Order", "namespace": "com.acme", "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "long"}]})
v2 = json.dumps({"type": "record", "name": "Order", "namespace": "com.acme", "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "long"}, {"name": "note", "type": "string", "default": ""}]})
v3 = json.dumps({"type": "record", "name": "Order", "namespace": "com.acme", "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "string"}]})
produce(avro_topic, AvroSerializer(sr, v1), [{"id": "a", "amount": 1}, {"id": "b", "amount": 2}])
produce(avro_topic, AvroSerializer(sr, v2), [{"id": "c", "amount": 3, "note": "evolved"}])
out["avro"] = consume(avro_topic, AvroDeserializer(sr), 3)
out["avroVersions"] = sr.get_versions(avro_topic + "-value")
latest = sr.get_latest_version(avro_topic + "-value")
out["avroLatest"] = {"version": latest.version, "id": latest.schema_id}
try:
    produce(avro_topic, AvroSerializer(sr, v3), [{"id": "d", "amount": "4"}])
    out["incompatible"] = None
except Exception as e:  # the serializer raises the registry's error
    err = e if isinstance(e, SchemaRegistryError) else getattr(e, "__cause__", None) or getattr(e, "__context__", None) or e
    out["incompatible"] = {"status": getattr(err, "http_status_code", None), "code": getattr(err, "error_code", None), "message": getattr(err, "error_message", str(err))}
out["compatible"] = sr.test_compatibility(avro_topic + "-value", Schema(v3, "AVRO"))

# ---- JSON Schema
json_topic = prefix + "-json"
js = json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "title": "Payment", "type": "object", "properties": {"id": {"type": "string"}, "cents": {"type": "integer"}}, "required": ["id"]})
produce(json_topic, JSONSerializer(js, sr), [{"id": "p1", "cents": 100}, {"id": "p2", "cents": 250}])
out["json"] = consume(json_topic, JSONDeserializer(js, schema_registry_client=sr), 2)

# ---- Protobuf: a message class built from a FileDescriptorProto (no protoc needed)
fdp = descriptor_pb2.FileDescriptorProto(name="acme/shipment.proto", package="acme", syntax="proto3")
msg = fdp.message_type.add(name="Shipment")
msg.field.add(name="id", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING, label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
msg.field.add(name="weight", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32, label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
pool = descriptor_pool.DescriptorPool()
pool.Add(fdp)
Shipment = message_factory.GetMessageClass(pool.FindMessageTypeByName("acme.Shipment"))
proto_topic = prefix + "-proto"
produce(proto_topic, ProtobufSerializer(Shipment, sr, {"use.deprecated.format": False}), [Shipment(id="s1", weight=7), Shipment(id="s2", weight=9)])
got = consume(proto_topic, ProtobufDeserializer(Shipment, {"use.deprecated.format": False}), 2)
out["protobuf"] = [{"id": m.id, "weight": m.weight} for m in got]
out["protobufSchemaType"] = sr.get_latest_version(proto_topic + "-value").schema.schema_type

print(json.dumps(out))
