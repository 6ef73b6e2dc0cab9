// Apache Pulsar's own Java client (pulsar-client-original of the broker's jars, see
// scripts/pulsar/fetch-pulsar.sh) as a test peer of the gateway's storageEngine=pulsar:
// what a Pulsar application sees of records Kafka clients wrote, and what Kafka clients see of
// messages a Pulsar application wrote. Compiled once per source hash by
// test/helpers/pulsar/interop.ts; stdout carries JSON lines only (logging goes to stderr).
//
//   consume --url U (--token T | --token-file F) --topic T --subscription S --count N
//           [--timeout-ms MS] [--position earliest|latest]
//       Subscribes (Exclusive, from the earliest position by default; a partitioned topic is
//       read through all its partitions), prints one JSON line per message until N arrived:
//       {"topic","key","keyB64","keyBytes","value","properties","eventTime","publishTime",
//        "messageId","index","producerName","sequenceId"}
//       key = getKey() (null without a key), keyB64 = hasBase64EncodedKey(), keyBytes =
//       base64(getKeyBytes()), value = base64(getValue()) (null for a null value), properties =
//       getProperties() (a map: the last value of a repeated name), index = broker entry index
//       (null when the broker adds none). Exit 3 when fewer than N arrived within the timeout
//       (default 30000 ms); the ones that did are printed.
//   produce --url U (--token T | --token-file F) --topic T --count N [--batching true|false]
//           [--compression NONE|LZ4|ZLIB|ZSTD|SNAPPY] [--tag S] [--start I] [--event-time-base MS]
//       Produces N messages, numbers I..I+N-1 (default 0), in order (sendAsync, then flush), and
//       prints per message what was sent and where it went:
//       {"i","key","keyBytes","value","properties":[[name,value],...],"eventTime","messageId"}
//       Message i: no key when i%6==0; key bytes ff 00 <tag> <i> (not UTF-8: sent base64 with the
//       b64 flag) when i%6==3; else key "<tag>-key-<i>". Value null when i%9==4, empty when
//       i%9==7, else "<tag>-value-<i>-" + i%50 bytes of (i & 0xff). Properties none when i%5==2,
//       else seq=<i>, tag=<tag>, text=ü-€-<i>. Event time none when i%7==5, else BASE + i*1000
//       (BASE = --event-time-base, default 1700000000000). Batching (default true): up to 100
//       messages or 10 ms per batch.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pulsar.client.api.AuthenticationFactory;
import org.apache.pulsar.client.api.CompressionType;
import org.apache.pulsar.client.api.Consumer;
import org.apache.pulsar.client.api.Message;
import org.apache.pulsar.client.api.MessageId;
import org.apache.pulsar.client.api.Producer;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.Schema;
import org.apache.pulsar.client.api.SubscriptionInitialPosition;
import org.apache.pulsar.client.api.SubscriptionType;
import org.apache.pulsar.client.api.TypedMessageBuilder;

public class PulsarInterop {
    static final Base64.Encoder B64 = Base64.getEncoder();

    public static void main(String[] args) throws Exception {
        if (args.length < 1) usage("missing command");
        Map<String, String> o = new HashMap<>();
        for (int i = 1; i < args.length; i += 2) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) usage("bad argument: " + args[i]);
            o.put(args[i].substring(2), args[i + 1]);
        }
        String token = o.containsKey("token") ? o.get("token")
                : o.containsKey("token-file") ? Files.readString(Path.of(o.get("token-file"))).trim() : null;
        var builder = PulsarClient.builder().serviceUrl(need(o, "url")).operationTimeout(30, TimeUnit.SECONDS);
        if (token != null) builder.authentication(AuthenticationFactory.token(token));
        int code;
        try (PulsarClient client = builder.build()) {
            switch (args[0]) {
                case "consume" -> code = consume(client, o);
                case "produce" -> code = produce(client, o);
                default -> {
                    usage("unknown command " + args[0]);
                    code = 2;
                }
            }
        }
        System.out.flush();
        System.exit(code);
    }

    static void usage(String why) {
        System.err.println("PulsarInterop: " + why + "\nusage: PulsarInterop consume|produce --url U --token T --topic T --count N ...");
        System.exit(2);
    }

    static String need(Map<String, String> o, String k) {
        String v = o.get(k);
        if (v == null) usage("--" + k + " is required");
        return v;
    }

    static int consume(PulsarClient client, Map<String, String> o) throws Exception {
        int count = Integer.parseInt(need(o, "count"));
        long deadline = System.currentTimeMillis() + Long.parseLong(o.getOrDefault("timeout-ms", "30000"));
        SubscriptionInitialPosition pos = "latest".equals(o.get("position")) ? SubscriptionInitialPosition.Latest
                : SubscriptionInitialPosition.Earliest;
        int got = 0;
        try (Consumer<byte[]> c = client.newConsumer(Schema.BYTES)
                .topic(need(o, "topic"))
                .subscriptionName(need(o, "subscription"))
                .subscriptionType("Shared".equals(o.get("type")) ? SubscriptionType.Shared : SubscriptionType.Exclusive)
                .subscriptionInitialPosition(pos)
                .subscribe()) {
            while (got < count) {
                long left = deadline - System.currentTimeMillis();
                if (left <= 0) break;
                Message<byte[]> m = c.receive((int) Math.min(left, 1000), TimeUnit.MILLISECONDS);
                if (m == null) continue;
                c.acknowledge(m);
                got++;
                byte[] value = m.getValue();
                StringBuilder s = new StringBuilder("{");
                field(s, "topic", m.getTopicName());
                field(s, "key", m.hasKey() ? m.getKey() : null);
                s.append(",\"keyB64\":").append(m.hasBase64EncodedKey());
                field(s, "keyBytes", m.hasKey() ? B64.encodeToString(m.getKeyBytes()) : null);
                field(s, "value", value == null ? null : B64.encodeToString(value));
                s.append(",\"properties\":{");
                boolean first = true;
                for (Map.Entry<String, String> e : m.getProperties().entrySet()) {
                    if (!first) s.append(',');
                    first = false;
                    str(s, e.getKey());
                    s.append(':');
                    str(s, e.getValue());
                }
                s.append('}');
                s.append(",\"eventTime\":").append(m.getEventTime());
                s.append(",\"publishTime\":").append(m.getPublishTime());
                field(s, "messageId", m.getMessageId().toString());
                s.append(",\"index\":").append(m.getIndex().map(String::valueOf).orElse("null"));
                field(s, "producerName", m.getProducerName());
                s.append(",\"sequenceId\":").append(m.getSequenceId());
                s.append('}');
                System.out.println(s);
            }
        }
        if (got < count) {
            System.err.println("PulsarInterop consume: " + got + " of " + count + " messages before the timeout");
            return 3;
        }
        return 0;
    }

    static int produce(PulsarClient client, Map<String, String> o) throws Exception {
        int count = Integer.parseInt(need(o, "count"));
        int start = Integer.parseInt(o.getOrDefault("start", "0"));
        String tag = o.getOrDefault("tag", "pulsar");
        long base = Long.parseLong(o.getOrDefault("event-time-base", "1700000000000"));
        boolean batching = Boolean.parseBoolean(o.getOrDefault("batching", "true"));
        CompressionType compression = CompressionType.valueOf(o.getOrDefault("compression", "NONE"));
        List<String> lines = new ArrayList<>();
        List<CompletableFuture<MessageId>> ids = new ArrayList<>();
        try (Producer<byte[]> p = client.newProducer(Schema.BYTES)
                .topic(need(o, "topic"))
                .enableBatching(batching)
                .batchingMaxMessages(100)
                .batchingMaxPublishDelay(10, TimeUnit.MILLISECONDS)
                .compressionType(compression)
                .blockIfQueueFull(true)
                .create()) {
            for (int i = start; i < start + count; i++) {
                TypedMessageBuilder<byte[]> b = p.newMessage();
                StringBuilder s = new StringBuilder("{\"i\":").append(i);
                if (i % 6 == 0) {
                    field(s, "key", null);
                    field(s, "keyBytes", null);
                } else if (i % 6 == 3) {
                    byte[] tb = tag.getBytes(StandardCharsets.UTF_8);
                    byte[] k = new byte[tb.length + 3];
                    k[0] = (byte) 0xff;
                    k[1] = 0;
                    System.arraycopy(tb, 0, k, 2, tb.length);
                    k[k.length - 1] = (byte) i;
                    b.keyBytes(k);
                    field(s, "key", null);
                    field(s, "keyBytes", B64.encodeToString(k));
                } else {
                    String k = tag + "-key-" + i;
                    b.key(k);
                    field(s, "key", k);
                    field(s, "keyBytes", B64.encodeToString(k.getBytes(StandardCharsets.UTF_8)));
                }
                byte[] value;
                if (i % 9 == 4) value = null;
                else if (i % 9 == 7) value = new byte[0];
                else {
                    byte[] head = (tag + "-value-" + i + "-").getBytes(StandardCharsets.UTF_8);
                    value = new byte[head.length + i % 50];
                    System.arraycopy(head, 0, value, 0, head.length);
                    for (int j = head.length; j < value.length; j++) value[j] = (byte) i;
                }
                b.value(value);
                field(s, "value", value == null ? null : B64.encodeToString(value));
                s.append(",\"properties\":[");
                if (i % 5 != 2) {
                    String[][] props = {{"seq", String.valueOf(i)}, {"tag", tag}, {"text", "ü-€-" + i}};
                    for (int j = 0; j < props.length; j++) {
                        b.property(props[j][0], props[j][1]);
                        s.append(j == 0 ? "[" : ",[");
                        str(s, props[j][0]);
                        s.append(',');
                        str(s, props[j][1]);
                        s.append(']');
                    }
                }
                s.append(']');
                long eventTime = i % 7 == 5 ? 0 : base + i * 1000L;
                if (eventTime != 0) b.eventTime(eventTime);
                s.append(",\"eventTime\":").append(eventTime);
                lines.add(s.toString());
                ids.add(b.sendAsync());
            }
            p.flush();
            for (int j = 0; j < lines.size(); j++) {
                MessageId id = ids.get(j).get(60, TimeUnit.SECONDS);
                StringBuilder s = new StringBuilder(lines.get(j));
                field(s, "messageId", id.toString());
                s.append('}');
                System.out.println(s);
            }
        }
        return 0;
    }

    static void field(StringBuilder s, String name, String value) {
        if (s.length() > 1) s.append(',');
        str(s, name);
        s.append(':');
        if (value == null) s.append("null");
        else str(s, value);
    }

    static void str(StringBuilder s, String v) {
        s.append('"');
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            switch (c) {
                case '"' -> s.append("\\\"");
                case '\\' -> s.append("\\\\");
                case '\n' -> s.append("\\n");
                case '\r' -> s.append("\\r");
                case '\t' -> s.append("\\t");
                default -> {
                    if (c < 0x20) s.append(String.format("\\u%04x", (int) c));
                    else s.append(c);
                }
            }
        }
        s.append('"');
    }
}
