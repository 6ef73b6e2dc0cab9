import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TopicListing;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Test driver: a real Apache Kafka Java client, driven from the command line.
 * Output: JSON lines on stdout. Diagnostics on stderr. Exit codes:
 *   0 ok, 1 an operation (or an item of it) failed, 2 usage error,
 *   3 consume timed out before --max-records records arrived.
 *
 * Usage: KopKafkaDriver COMMAND --bootstrap HOST:PORT [security] [options]
 *
 * Security / client options (every command):
 *   --security-protocol PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL
 *   --sasl-mechanism PLAIN|SCRAM-SHA-256|SCRAM-SHA-512|OAUTHBEARER
 *   --username U --password P        (PLAIN, SCRAM)
 *   --token JWT                      (OAUTHBEARER: sent as is, see KopStaticTokenLoginCallbackHandler)
 *   --ca-pem FILE                    trust store (PEM)
 *   --cert-pem FILE --key-pem FILE   client certificate chain + PKCS#8 key (PEM), for mTLS
 *   --verify-hostname true|false     TLS endpoint identification (default false)
 *   --client-id ID
 *   --config KEY=VALUE               any client config (repeatable; applied last)
 *   --request-timeout-ms MS          (default 15000)
 *
 * Commands:
 *   produce --topic T [--partition P] [--acks all|1|0] [--idempotence true|false]
 *           [--compression none|gzip|snappy|lz4|zstd] [--linger-ms MS] [--batch-size B]
 *           [--count N [--value-size S]]   generate N records key-i / value-i (padded to S bytes)
 *           otherwise records are read from stdin, one JSON object a line:
 *           {"key":"utf8"|null,"keyB64":"...","value":..,"valueB64":..,
 *            "headers":[{"key":"h","value":"utf8"|null,"valueB64":".."}],
 *            "timestamp":ms,"partition":p,"topic":"override"}
 *           prints {"index","topic","partition","offset","timestamp"} per record, in input order
 *           (or {"index","error","message"} for a failed record).
 *   consume --topic T [--group G [--commit]] [--partition P ...] [--offset beginning|end|N]
 *           [--from-latest] [--max-records N] [--until-end] [--timeout-ms MS (default 30000)]
 *           [--encoding utf8|base64] [--isolation-level read_uncommitted|read_committed]
 *           prints {"topic","partition","offset","timestamp","timestampType","key","value",
 *                   "headers":[{"key","value"}],"leaderEpoch"} per record.
 *   describe-cluster                     {"clusterId","controller":{..},"nodes":[{id,host,port,rack}]}
 *   create-topics --topic T ... [--partitions N] [--replication-factor R] [--topic-config K=V ...]
 *   delete-topics --topic T ...
 *   create-partitions --topic T --total N
 *   list-topics [--internal]             one {"topic","topicId","internal"} a line
 *   describe-topics --topic T ...        {"topic","topicId","internal","partitions":[{partition,leader,replicas,isr}]}
 *   list-offsets --topic T [--partition P ...] [--spec earliest|latest|max-timestamp|TIMESTAMP_MS]
 *                                        {"topic","partition","offset","timestamp","leaderEpoch"}
 *   describe-configs (--topic T | --broker ID) [--all]  {"type","name","configs":{name:{value,source,readOnly,sensitive}}}
 *                                        (without --all only non-default entries are printed)
 *   list-groups                          {"groupId","type","state","protocol"}
 *   list-group-offsets --group G [--topic T]  {"group","topic","partition","offset","metadata"}
 */
public final class KopKafkaDriver {
    static final ObjectMapper JSON = new ObjectMapper();
    static final PrintStream OUT = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
    static final Set<String> FLAGS = Set.of("--commit", "--until-end", "--from-latest", "--internal", "--all", "--help");

    static final class UsageException extends RuntimeException {
        UsageException(String m) { super(m); }
    }

    /** Parsed --name value options; repeated names keep every value. */
    static final class Args {
        final String command;
        final Map<String, List<String>> opts = new LinkedHashMap<>();

        Args(String[] argv) {
            if (argv.length == 0) throw new UsageException("missing command");
            command = argv[0];
            for (int i = 1; i < argv.length; i++) {
                String a = argv[i];
                if (!a.startsWith("--")) throw new UsageException("unexpected argument: " + a);
                String name = a;
                String value;
                int eq = a.indexOf('=');
                if (eq > 0 && !FLAGS.contains(a)) {
                    name = a.substring(0, eq);
                    value = a.substring(eq + 1);
                } else if (FLAGS.contains(a)) {
                    value = "true";
                } else {
                    if (i + 1 >= argv.length) throw new UsageException("missing value for " + a);
                    value = argv[++i];
                }
                opts.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
            }
        }

        String get(String name) {
            List<String> v = opts.get(name);
            return v == null ? null : v.get(v.size() - 1);
        }

        String get(String name, String dflt) {
            String v = get(name);
            return v == null ? dflt : v;
        }

        String required(String name) {
            String v = get(name);
            if (v == null) throw new UsageException(command + " needs " + name);
            return v;
        }

        List<String> all(String name) {
            return opts.getOrDefault(name, Collections.emptyList());
        }

        boolean flag(String name) {
            String v = get(name);
            return v != null && !v.equals("false");
        }

        long getLong(String name, long dflt) {
            String v = get(name);
            return v == null ? dflt : Long.parseLong(v);
        }

        int getInt(String name, int dflt) {
            String v = get(name);
            return v == null ? dflt : Integer.parseInt(v);
        }
    }

    public static void main(String[] argv) {
        int code;
        try {
            Args args = new Args(argv);
            if (args.flag("--help") || args.command.equals("help")) {
                System.err.println("see the comment at the top of KopKafkaDriver.java");
                System.exit(0);
            }
            code = run(args);
        } catch (UsageException e) {
            System.err.println("usage error: " + e.getMessage());
            code = 2;
        } catch (Throwable e) {
            Throwable c = unwrap(e);
            System.err.println("error: " + c.getClass().getName() + ": " + c.getMessage());
            code = 1;
        }
        OUT.flush();
        System.exit(code);
    }

    static Throwable unwrap(Throwable e) {
        while ((e instanceof ExecutionException || e instanceof java.util.concurrent.CompletionException) && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    static int run(Args a) throws Exception {
        switch (a.command) {
            case "produce": return produce(a);
            case "consume": return consume(a);
            case "describe-cluster": return describeCluster(a);
            case "create-topics": return createTopics(a);
            case "delete-topics": return deleteTopics(a);
            case "create-partitions": return createPartitions(a);
            case "list-topics": return listTopics(a);
            case "describe-topics": return describeTopics(a);
            case "list-offsets": return listOffsets(a);
            case "describe-configs": return describeConfigs(a);
            case "list-groups": return listGroups(a);
            case "list-group-offsets": return listGroupOffsets(a);
            default: throw new UsageException("unknown command: " + a.command);
        }
    }

    // ------------------------------------------------------------------ config

    static String jaasQuote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    static Properties clientProps(Args a) {
        Properties p = new Properties();
        p.put("bootstrap.servers", a.required("--bootstrap"));
        String protocol = a.get("--security-protocol", "PLAINTEXT").toUpperCase();
        p.put("security.protocol", protocol);
        p.put("request.timeout.ms", a.get("--request-timeout-ms", "15000"));
        p.put("default.api.timeout.ms", String.valueOf(Math.max(30000, a.getLong("--request-timeout-ms", 15000))));
        if (a.get("--client-id") != null) p.put("client.id", a.get("--client-id"));
        if (protocol.startsWith("SASL")) {
            String mech = a.get("--sasl-mechanism", a.get("--token") != null ? "OAUTHBEARER" : "PLAIN").toUpperCase();
            p.put("sasl.mechanism", mech);
            switch (mech) {
                case "PLAIN":
                    p.put("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username="
                        + jaasQuote(a.required("--username")) + " password=" + jaasQuote(a.required("--password")) + ";");
                    break;
                case "SCRAM-SHA-256":
                case "SCRAM-SHA-512":
                    p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username="
                        + jaasQuote(a.required("--username")) + " password=" + jaasQuote(a.required("--password")) + ";");
                    break;
                case "OAUTHBEARER":
                    p.put("sasl.jaas.config", "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required token="
                        + jaasQuote(a.required("--token")) + ";");
                    p.put("sasl.login.callback.handler.class", KopStaticTokenLoginCallbackHandler.class.getName());
                    break;
                default:
                    throw new UsageException("unsupported --sasl-mechanism " + mech);
            }
        }
        if (protocol.endsWith("SSL")) {
            if (a.get("--ca-pem") != null) {
                p.put("ssl.truststore.type", "PEM");
                p.put("ssl.truststore.location", a.get("--ca-pem"));
            }
            if (a.get("--cert-pem") != null) {
                p.put("ssl.keystore.type", "PEM");
                p.put("ssl.keystore.certificate.chain", readFile(a.get("--cert-pem")));
                p.put("ssl.keystore.key", readFile(a.required("--key-pem")));
            }
            p.put("ssl.endpoint.identification.algorithm", a.flag("--verify-hostname") ? "https" : "");
        }
        for (String kv : a.all("--config")) {
            int eq = kv.indexOf('=');
            if (eq <= 0) throw new UsageException("--config needs KEY=VALUE, got " + kv);
            p.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return p;
    }

    static String readFile(String path) {
        try {
            return new String(java.nio.file.Files.readAllBytes(java.nio.file.Path.of(path)), StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new UsageException("cannot read " + path + ": " + e.getMessage());
        }
    }

    static void print(ObjectNode n) {
        OUT.println(n.toString());
    }

    static ObjectNode errorNode(Throwable e) {
        Throwable c = unwrap(e);
        ObjectNode n = JSON.createObjectNode();
        n.put("error", c.getClass().getSimpleName());
        n.put("message", String.valueOf(c.getMessage()));
        return n;
    }

    // ----------------------------------------------------------------- produce

    static byte[] bytesField(JsonNode rec, String name) {
        JsonNode b64 = rec.get(name + "B64");
        if (b64 != null && !b64.isNull()) return Base64.getDecoder().decode(b64.asText());
        JsonNode s = rec.get(name);
        if (s == null || s.isNull()) return null;
        return s.asText().getBytes(StandardCharsets.UTF_8);
    }

    static int produce(Args a) throws Exception {
        String topic = a.required("--topic");
        Properties p = clientProps(a);
        p.put(ProducerConfig.ACKS_CONFIG, a.get("--acks", "all"));
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, a.get("--idempotence", "false"));
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, a.get("--compression", "none"));
        p.put(ProducerConfig.LINGER_MS_CONFIG, a.get("--linger-ms", "5"));
        if (a.get("--batch-size") != null) p.put(ProducerConfig.BATCH_SIZE_CONFIG, a.get("--batch-size"));
        if (!a.get("--acks", "all").equals("all") && !p.containsKey("max.in.flight.requests.per.connection")
            && a.get("--idempotence", "false").equals("false")) {
            p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1"); // keep order without idempotence
        }
        // re-apply --config so that it wins over the defaults above
        for (String kv : a.all("--config")) {
            int eq = kv.indexOf('=');
            p.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        Integer fixedPartition = a.get("--partition") == null ? null : Integer.valueOf(a.get("--partition"));

        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        if (a.get("--count") != null) {
            long n = a.getLong("--count", 0);
            int size = a.getInt("--value-size", 0);
            for (long i = 0; i < n; i++) {
                byte[] value = pad("value-" + i, size);
                records.add(new ProducerRecord<>(topic, fixedPartition, null, ("key-" + i).getBytes(StandardCharsets.UTF_8), value));
            }
        } else {
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            int lineNo = 0;
            while ((line = in.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) continue;
                JsonNode rec;
                try {
                    rec = JSON.readTree(line);
                } catch (Exception e) {
                    throw new UsageException("stdin line " + lineNo + " is not JSON: " + e.getMessage());
                }
                List<Header> headers = new ArrayList<>();
                JsonNode hs = rec.get("headers");
                if (hs != null && hs.isArray()) {
                    for (JsonNode h : hs) headers.add(new RecordHeader(h.get("key").asText(), bytesField(h, "value")));
                }
                Integer partition = rec.hasNonNull("partition") ? Integer.valueOf(rec.get("partition").asInt()) : fixedPartition;
                Long ts = rec.hasNonNull("timestamp") ? Long.valueOf(rec.get("timestamp").asLong()) : null;
                String t = rec.hasNonNull("topic") ? rec.get("topic").asText() : topic;
                records.add(new ProducerRecord<>(t, partition, ts, bytesField(rec, "key"), bytesField(rec, "value"), headers));
            }
        }

        int failures = 0;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            List<Future<RecordMetadata>> futures = new ArrayList<>(records.size());
            for (ProducerRecord<byte[], byte[]> r : records) {
                try {
                    futures.add(producer.send(r));
                } catch (Exception e) {
                    futures.add(failedFuture(e));
                }
            }
            producer.flush();
            long timeoutMs = a.getLong("--timeout-ms", 60000);
            for (int i = 0; i < futures.size(); i++) {
                ObjectNode n;
                try {
                    RecordMetadata md = futures.get(i).get(timeoutMs, TimeUnit.MILLISECONDS);
                    n = JSON.createObjectNode();
                    n.put("index", i);
                    n.put("topic", md.topic());
                    n.put("partition", md.partition());
                    n.put("offset", md.hasOffset() ? md.offset() : -1);
                    n.put("timestamp", md.hasTimestamp() ? md.timestamp() : -1);
                } catch (Exception e) {
                    failures++;
                    n = errorNode(e);
                    n.put("index", i);
                }
                print(n);
            }
        }
        if (failures > 0) System.err.println("error: " + failures + " of " + records.size() + " records failed");
        return failures > 0 ? 1 : 0;
    }

    static Future<RecordMetadata> failedFuture(Exception e) {
        java.util.concurrent.CompletableFuture<RecordMetadata> f = new java.util.concurrent.CompletableFuture<>();
        f.completeExceptionally(e);
        return f;
    }

    static byte[] pad(String s, int size) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (size <= b.length) return b;
        byte[] out = new byte[size];
        System.arraycopy(b, 0, out, 0, b.length);
        for (int i = b.length; i < size; i++) out[i] = (byte) ('a' + (i % 26));
        return out;
    }

    // ----------------------------------------------------------------- consume

    static String encode(byte[] b, boolean base64) {
        if (b == null) return null;
        return base64 ? Base64.getEncoder().encodeToString(b) : new String(b, StandardCharsets.UTF_8);
    }

    static int consume(Args a) throws Exception {
        String topic = a.required("--topic");
        String group = a.get("--group");
        boolean base64 = a.get("--encoding", "utf8").equals("base64");
        long maxRecords = a.getLong("--max-records", -1);
        long timeoutMs = a.getLong("--timeout-ms", 30000);
        boolean untilEnd = a.flag("--until-end");
        Properties p = clientProps(a);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, a.flag("--from-latest") ? "latest" : "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, a.get("--isolation-level", "read_uncommitted"));
        if (group != null) p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        for (String kv : a.all("--config")) {
            int eq = kv.indexOf('=');
            p.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        if (untilEnd && group != null) throw new UsageException("--until-end works with assigned partitions only (no --group)");
        if (maxRecords < 0 && !untilEnd && group == null && a.get("--timeout-ms") == null) {
            System.err.println("note: no --max-records/--until-end: consuming until --timeout-ms (30000)");
        }

        long deadline = System.currentTimeMillis() + timeoutMs;
        long count = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            Map<TopicPartition, Long> endOffsets = Collections.emptyMap();
            if (group != null) {
                consumer.subscribe(Collections.singletonList(topic));
            } else {
                List<TopicPartition> tps = new ArrayList<>();
                if (!a.all("--partition").isEmpty()) {
                    for (String s : a.all("--partition")) tps.add(new TopicPartition(topic, Integer.parseInt(s)));
                } else {
                    List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofMillis(Math.max(1000, timeoutMs)));
                    if (infos == null || infos.isEmpty()) throw new IllegalStateException("topic " + topic + " has no partitions (does it exist?)");
                    for (PartitionInfo pi : infos) tps.add(new TopicPartition(topic, pi.partition()));
                }
                tps.sort((x, y) -> Integer.compare(x.partition(), y.partition()));
                consumer.assign(tps);
                String offset = a.get("--offset", a.flag("--from-latest") ? "end" : "beginning");
                if (offset.equals("beginning")) consumer.seekToBeginning(tps);
                else if (offset.equals("end")) consumer.seekToEnd(tps);
                else for (TopicPartition tp : tps) consumer.seek(tp, Long.parseLong(offset));
                if (untilEnd) endOffsets = consumer.endOffsets(tps);
            }
            boolean done = maxRecords == 0;
            while (!done) {
                if (untilEnd && reachedEnd(consumer, endOffsets)) break;
                long left = deadline - System.currentTimeMillis();
                if (left <= 0) break;
                ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofMillis(Math.min(left, 500)));
                for (ConsumerRecord<byte[], byte[]> r : recs) {
                    if (untilEnd) {
                        Long end = endOffsets.get(new TopicPartition(r.topic(), r.partition()));
                        if (end != null && r.offset() >= end) continue;
                    }
                    ObjectNode n = JSON.createObjectNode();
                    n.put("topic", r.topic());
                    n.put("partition", r.partition());
                    n.put("offset", r.offset());
                    n.put("timestamp", r.timestamp());
                    n.put("timestampType", r.timestampType().toString());
                    n.put("key", encode(r.key(), base64));
                    n.put("value", encode(r.value(), base64));
                    ArrayNode hs = n.putArray("headers");
                    for (Header h : r.headers()) {
                        ObjectNode hn = hs.addObject();
                        hn.put("key", h.key());
                        hn.put("value", encode(h.value(), base64));
                    }
                    if (r.leaderEpoch().isPresent()) n.put("leaderEpoch", r.leaderEpoch().get());
                    print(n);
                    count++;
                    if (maxRecords >= 0 && count >= maxRecords) {
                        done = true;
                        break;
                    }
                }
            }
            if (group != null && a.flag("--commit")) consumer.commitSync();
        }
        if (maxRecords > 0 && count < maxRecords) {
            System.err.println("error: timeout after " + timeoutMs + " ms with " + count + " of " + maxRecords + " records");
            return 3;
        }
        return 0;
    }

    static boolean reachedEnd(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> endOffsets) {
        for (Map.Entry<TopicPartition, Long> e : endOffsets.entrySet()) {
            if (consumer.position(e.getKey()) < e.getValue()) return false;
        }
        return true;
    }

    // ------------------------------------------------------------------- admin

    static Admin admin(Args a) {
        return Admin.create(clientProps(a));
    }

    static ObjectNode nodeJson(Node n) {
        ObjectNode o = JSON.createObjectNode();
        o.put("id", n.id());
        o.put("host", n.host());
        o.put("port", n.port());
        o.put("rack", n.rack());
        return o;
    }

    static int describeCluster(Args a) throws Exception {
        try (Admin admin = admin(a)) {
            DescribeClusterResult r = admin.describeCluster();
            ObjectNode o = JSON.createObjectNode();
            o.put("clusterId", r.clusterId().get());
            Node c = r.controller().get();
            if (c == null) o.putNull("controller"); else o.set("controller", nodeJson(c));
            ArrayNode nodes = o.putArray("nodes");
            List<Node> ns = new ArrayList<>(r.nodes().get());
            ns.sort((x, y) -> Integer.compare(x.id(), y.id()));
            for (Node n : ns) nodes.add(nodeJson(n));
            print(o);
        }
        return 0;
    }

    /** Print one line per item of a per-item admin result; returns the count of failures. */
    static int perItem(Map<String, ? extends KafkaFuture<?>> futures, String okField) {
        int failures = 0;
        for (Map.Entry<String, ? extends KafkaFuture<?>> e : new TreeMap<>(futures).entrySet()) {
            ObjectNode n;
            try {
                e.getValue().get();
                n = JSON.createObjectNode();
                n.put("topic", e.getKey());
                n.put(okField, true);
            } catch (Exception ex) {
                failures++;
                n = errorNode(ex);
                n.put("topic", e.getKey());
                n.put(okField, false);
                System.err.println("error: topic " + e.getKey() + ": " + n.get("error").asText() + ": " + n.get("message").asText());
            }
            print(n);
        }
        return failures;
    }

    static List<String> topics(Args a) {
        List<String> t = a.all("--topic");
        if (t.isEmpty()) throw new UsageException(a.command + " needs --topic");
        return t;
    }

    static int createTopics(Args a) throws Exception {
        int partitions = a.getInt("--partitions", 1);
        short rf = (short) a.getInt("--replication-factor", 1);
        Map<String, String> configs = new HashMap<>();
        for (String kv : a.all("--topic-config")) {
            int eq = kv.indexOf('=');
            if (eq <= 0) throw new UsageException("--topic-config needs KEY=VALUE");
            configs.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        List<NewTopic> nts = new ArrayList<>();
        for (String t : topics(a)) nts.add(new NewTopic(t, partitions, rf).configs(configs));
        try (Admin admin = admin(a)) {
            return perItem(admin.createTopics(nts).values(), "created") > 0 ? 1 : 0;
        }
    }

    static int deleteTopics(Args a) throws Exception {
        try (Admin admin = admin(a)) {
            return perItem(admin.deleteTopics(topics(a)).topicNameValues(), "deleted") > 0 ? 1 : 0;
        }
    }

    static int createPartitions(Args a) throws Exception {
        int total = Integer.parseInt(a.required("--total"));
        Map<String, NewPartitions> m = new HashMap<>();
        for (String t : topics(a)) m.put(t, NewPartitions.increaseTo(total));
        try (Admin admin = admin(a)) {
            return perItem(admin.createPartitions(m).values(), "increased") > 0 ? 1 : 0;
        }
    }

    static int listTopics(Args a) throws Exception {
        try (Admin admin = admin(a)) {
            Collection<TopicListing> ls = admin.listTopics(new ListTopicsOptions().listInternal(a.flag("--internal"))).listings().get();
            List<TopicListing> sorted = new ArrayList<>(ls);
            sorted.sort((x, y) -> x.name().compareTo(y.name()));
            for (TopicListing l : sorted) {
                ObjectNode o = JSON.createObjectNode();
                o.put("topic", l.name());
                o.put("topicId", String.valueOf(l.topicId()));
                o.put("internal", l.isInternal());
                print(o);
            }
        }
        return 0;
    }

    static int describeTopics(Args a) throws Exception {
        int failures = 0;
        try (Admin admin = admin(a)) {
            Map<String, KafkaFuture<TopicDescription>> fs = admin.describeTopics(topics(a)).topicNameValues();
            for (String t : new TreeMap<>(fs).keySet()) {
                ObjectNode o;
                try {
                    TopicDescription d = fs.get(t).get();
                    o = JSON.createObjectNode();
                    o.put("topic", d.name());
                    o.put("topicId", String.valueOf(d.topicId()));
                    o.put("internal", d.isInternal());
                    ArrayNode ps = o.putArray("partitions");
                    for (TopicPartitionInfo pi : d.partitions()) {
                        ObjectNode pn = ps.addObject();
                        pn.put("partition", pi.partition());
                        pn.put("leader", pi.leader() == null ? -1 : pi.leader().id());
                        ArrayNode reps = pn.putArray("replicas");
                        for (Node n : pi.replicas()) reps.add(n.id());
                        ArrayNode isr = pn.putArray("isr");
                        for (Node n : pi.isr()) isr.add(n.id());
                    }
                } catch (Exception e) {
                    failures++;
                    o = errorNode(e);
                    o.put("topic", t);
                }
                print(o);
            }
        }
        return failures > 0 ? 1 : 0;
    }

    static OffsetSpec offsetSpec(String s) {
        switch (s) {
            case "earliest": return OffsetSpec.earliest();
            case "latest": return OffsetSpec.latest();
            case "max-timestamp": return OffsetSpec.maxTimestamp();
            default:
                try {
                    return OffsetSpec.forTimestamp(Long.parseLong(s));
                } catch (NumberFormatException e) {
                    throw new UsageException("--spec must be earliest|latest|max-timestamp|<timestamp ms>, got " + s);
                }
        }
    }

    static int listOffsets(Args a) throws Exception {
        String spec = a.get("--spec", "latest");
        int failures = 0;
        try (Admin admin = admin(a)) {
            Map<TopicPartition, OffsetSpec> req = new LinkedHashMap<>();
            for (String t : topics(a)) {
                List<String> parts = a.all("--partition");
                if (parts.isEmpty()) {
                    TopicDescription d = admin.describeTopics(List.of(t)).allTopicNames().get().get(t);
                    for (TopicPartitionInfo pi : d.partitions()) req.put(new TopicPartition(t, pi.partition()), offsetSpec(spec));
                } else {
                    for (String s : parts) req.put(new TopicPartition(t, Integer.parseInt(s)), offsetSpec(spec));
                }
            }
            ListOffsetsResult r = admin.listOffsets(req);
            for (TopicPartition tp : req.keySet()) {
                ObjectNode o;
                try {
                    ListOffsetsResult.ListOffsetsResultInfo info = r.partitionResult(tp).get();
                    o = JSON.createObjectNode();
                    o.put("topic", tp.topic());
                    o.put("partition", tp.partition());
                    o.put("offset", info.offset());
                    o.put("timestamp", info.timestamp());
                    if (info.leaderEpoch().isPresent()) o.put("leaderEpoch", info.leaderEpoch().get());
                } catch (Exception e) {
                    failures++;
                    o = errorNode(e);
                    o.put("topic", tp.topic());
                    o.put("partition", tp.partition());
                }
                print(o);
            }
        }
        return failures > 0 ? 1 : 0;
    }

    static int describeConfigs(Args a) throws Exception {
        List<ConfigResource> rs = new ArrayList<>();
        for (String t : a.all("--topic")) rs.add(new ConfigResource(ConfigResource.Type.TOPIC, t));
        for (String b : a.all("--broker")) rs.add(new ConfigResource(ConfigResource.Type.BROKER, b));
        if (rs.isEmpty()) throw new UsageException("describe-configs needs --topic or --broker");
        boolean all = a.flag("--all");
        int failures = 0;
        try (Admin admin = admin(a)) {
            Map<ConfigResource, KafkaFuture<Config>> fs = admin.describeConfigs(rs).values();
            for (ConfigResource res : rs) {
                ObjectNode o;
                try {
                    Config cfg = fs.get(res).get();
                    o = JSON.createObjectNode();
                    o.put("type", res.type().name().toLowerCase());
                    o.put("name", res.name());
                    ObjectNode cs = o.putObject("configs");
                    List<ConfigEntry> es = new ArrayList<>(cfg.entries());
                    es.sort((x, y) -> x.name().compareTo(y.name()));
                    for (ConfigEntry e : es) {
                        if (!all && e.isDefault()) continue;
                        ObjectNode en = cs.putObject(e.name());
                        en.put("value", e.value());
                        en.put("source", e.source().name());
                        en.put("readOnly", e.isReadOnly());
                        en.put("sensitive", e.isSensitive());
                    }
                } catch (Exception e) {
                    failures++;
                    o = errorNode(e);
                    o.put("type", res.type().name().toLowerCase());
                    o.put("name", res.name());
                }
                print(o);
            }
        }
        return failures > 0 ? 1 : 0;
    }

    static int listGroups(Args a) throws Exception {
        try (Admin admin = admin(a)) {
            List<GroupListing> gs = new ArrayList<>(admin.listGroups().all().get());
            gs.sort((x, y) -> x.groupId().compareTo(y.groupId()));
            for (GroupListing g : gs) {
                ObjectNode o = JSON.createObjectNode();
                o.put("groupId", g.groupId());
                o.put("type", g.type().map(Object::toString).orElse(null));
                o.put("state", g.groupState().map(Object::toString).orElse(null));
                o.put("protocol", g.protocol());
                print(o);
            }
        }
        return 0;
    }

    static int listGroupOffsets(Args a) throws Exception {
        String group = a.required("--group");
        try (Admin admin = admin(a)) {
            Map<TopicPartition, OffsetAndMetadata> m = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            List<TopicPartition> tps = new ArrayList<>(m.keySet());
            tps.sort((x, y) -> x.topic().equals(y.topic()) ? Integer.compare(x.partition(), y.partition()) : x.topic().compareTo(y.topic()));
            String topic = a.get("--topic");
            for (TopicPartition tp : tps) {
                if (topic != null && !topic.equals(tp.topic())) continue;
                OffsetAndMetadata om = m.get(tp);
                ObjectNode o = JSON.createObjectNode();
                o.put("group", group);
                o.put("topic", tp.topic());
                o.put("partition", tp.partition());
                if (om == null) {
                    o.putNull("offset");
                } else {
                    o.put("offset", om.offset());
                    o.put("metadata", om.metadata());
                }
                print(o);
            }
        }
        return 0;
    }
}
