import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * A Kafka Streams application for the gateway's acceptance test
 * (test/e2e/kafka-streams.test.ts), together with the test's own client work
 * in the same JVM (one JVM per run of the app: producing input, reading
 * topics to their end, group lag, state store contents), driven by commands
 * on stdin.
 *
 * The topology (names prefixed with --prefix P):
 *   P-orders (user -> "n:amount", n numbering the user's orders from 0) and
 *   P-users (user -> region), co-partitioned;
 *   count by user      -> store "count-store"  -> P-counts        (user -> count)
 *   set of n by user   -> store "seen-store"   -> P-seen          (user -> bitset of n, base64)
 *   count by user in 10-minute windows -> store "window-store" -> P-window-counts
 *                                                       (user@window start -> count)
 *   sum by user        -> store "sum-store"    -> P-sums          (user -> sum of amounts)
 *   orders JOIN the users KTable (store "users-store") on user, re-keyed by
 *   region (selectKey: a repartition topic), sum by region -> store
 *   "region-store" -> P-region-sums (region -> sum of amounts)
 * Every store has a compacted changelog topic Streams creates itself. Under
 * at_least_once a record may be processed twice after a crash: the counts and
 * sums may then count it twice, the set of seen order numbers stays exact.
 *
 * Commands (one per line), each answered by lines ending with one "OK <cmd>"
 * or "ERR <cmd> <message>" line:
 *   produce <topic> <file>   records "key\tvalue\ttimestamp" per line, acks=all, idempotent
 *   read <topic>             "START <partition> <log start offset>" per partition, then
 *                            "REC <partition> <offset> <key> <value>" from the beginning to the end
 *   lag                      "LAG <n>": records of the app's source and repartition topics not committed yet
 *   store <name>             "KV <key> <value>" for every entry of the store (interactive query)
 *   configs <topic>          "CONFIG <name> <value>" for the topic's configs that are not defaults
 *   start                    start the Streams application (so that input can be written first)
 * Prints "STATE <new state>" on each state change.
 *
 * Usage: KopStreamsApp --bootstrap host:port --app-id id --prefix P --state-dir dir
 *                      [--guarantee at_least_once] [--commit-ms 200] [--partitions 2]
 */
public class KopStreamsApp {
    static final PrintStream out = System.out;

    static synchronized void say(String line) {
        out.println(line);
        out.flush();
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) a.put(argv[i], argv[i + 1]);
        String bootstrap = a.get("--bootstrap");
        String appId = a.get("--app-id");
        String prefix = a.get("--prefix");
        int partitions = Integer.parseInt(a.getOrDefault("--partitions", "2"));
        String orders = prefix + "-orders", users = prefix + "-users";
        String counts = prefix + "-counts", sums = prefix + "-sums", regionSums = prefix + "-region-sums", seen = prefix + "-seen", windowCounts = prefix + "-window-counts";

        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        Admin admin = Admin.create(ap);
        List<NewTopic> topics = new ArrayList<>();
        for (String t : new String[] {orders, users, counts, sums, regionSums, seen, windowCounts}) topics.add(new NewTopic(t, partitions, (short) 1));
        for (NewTopic t : topics) {
            try {
                admin.createTopics(List.of(t)).all().get(60, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) throw e;
            }
        }

        Properties p = new Properties();
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.STATE_DIR_CONFIG, a.get("--state-dir"));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, a.getOrDefault("--guarantee", StreamsConfig.AT_LEAST_ONCE));
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, a.getOrDefault("--commit-ms", "200"));
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1");
        p.put(StreamsConfig.consumerPrefix("session.timeout.ms"), "10000");
        p.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), "1000");
        p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        // small producer batches and small segments for the internal topics Streams creates: the gateway's cleaner compacts the changelogs
        p.put(StreamsConfig.producerPrefix("batch.size"), "1024");
        p.put(StreamsConfig.topicPrefix("segment.bytes"), "4096");
        p.put(StreamsConfig.topicPrefix("min.cleanable.dirty.ratio"), "0.01");
        // Streams deletes what it consumed of its repartition topics (DeleteRecords) after commits, at most this often
        p.put(StreamsConfig.REPARTITION_PURGE_INTERVAL_MS_CONFIG, "500");

        StreamsBuilder b = new StreamsBuilder();
        // an order is "<n>:<amount>", n numbering the user's orders from 0
        KStream<String, String> orderStream = b.stream(orders, Consumed.with(Serdes.String(), Serdes.String()));
        KStream<String, String> amounts = orderStream.mapValues(v -> v.substring(v.indexOf(':') + 1));
        orderStream.groupByKey()
            .count(Materialized.as("count-store"))
            .toStream()
            .mapValues(v -> Long.toString(v))
            .to(counts, Produced.with(Serdes.String(), Serdes.String()));
        amounts.groupByKey()
            .aggregate(() -> 0L, (k, v, agg) -> agg + Long.parseLong(v),
                Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("sum-store").withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
            .toStream()
            .mapValues(v -> Long.toString(v))
            .to(sums, Produced.with(Serdes.String(), Serdes.String()));
        KTable<String, String> userTable = b.table(users, Consumed.with(Serdes.String(), Serdes.String()),
            Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("users-store").withKeySerde(Serdes.String()).withValueSerde(Serdes.String()));
        // count by user in 10-minute windows (a window store kept a day: its changelog is compact,delete with a retention)
        amounts.groupByKey()
            .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMinutes(10)))
            // retention explicit: the default (window size + grace, 10 minutes here) lets a store restored after a crash
            // drop the older windows that records processed again after the last commit fall into
            .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("window-store").withRetention(Duration.ofDays(1)))
            .toStream((wk, v) -> wk.key() + "@" + wk.window().start())
            .mapValues(v -> Long.toString(v))
            .to(windowCounts, Produced.with(Serdes.String(), Serdes.String()));
        // the set of order numbers seen per user (a bitset, base64): the same however often an order is processed
        orderStream.groupByKey()
            .aggregate(() -> "", (k, v, agg) -> {
                    BitSet bits = BitSet.valueOf(Base64.getDecoder().decode(agg));
                    bits.set(Integer.parseInt(v.substring(0, v.indexOf(':'))));
                    return Base64.getEncoder().encodeToString(bits.toByteArray());
                },
                Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("seen-store").withKeySerde(Serdes.String()).withValueSerde(Serdes.String()))
            .toStream()
            .to(seen, Produced.with(Serdes.String(), Serdes.String()));
        amounts.join(userTable, (amount, region) -> region + ":" + amount)
            .selectKey((user, regionAmount) -> regionAmount.substring(0, regionAmount.indexOf(':')))
            .mapValues(regionAmount -> regionAmount.substring(regionAmount.indexOf(':') + 1))
            .groupByKey(Grouped.with("by-region", Serdes.String(), Serdes.String()))
            .aggregate(() -> 0L, (k, v, agg) -> agg + Long.parseLong(v),
                Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("region-store").withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
            .toStream()
            .mapValues(v -> Long.toString(v))
            .to(regionSums, Produced.with(Serdes.String(), Serdes.String()));

        KafkaStreams streams = new KafkaStreams(b.build(), p);
        CountDownLatch done = new CountDownLatch(1);
        streams.setStateListener((now, before) -> {
            say("STATE " + now);
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) done.countDown();
        });
        streams.setUncaughtExceptionHandler(e -> {
            System.err.println("uncaught: " + e);
            e.printStackTrace();
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> streams.close(Duration.ofSeconds(10))));

        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        pp.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        KafkaProducer<String, String> producer = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer());

        CountDownLatch start = new CountDownLatch(1);
        Thread commands = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    String[] c = line.trim().split(" ");
                    try {
                        switch (c[0]) {
                            case "produce": produce(producer, c[1], c[2]); break;
                            case "read": read(bootstrap, c[1]); break;
                            case "lag": say("LAG " + lag(admin, appId, List.of(orders, users))); break;
                            case "store": store(streams, c[1]); break;
                            case "configs": configs(admin, c[1]); break;
                            case "start": start.countDown(); break;
                            default: throw new IllegalArgumentException("unknown command");
                        }
                        say("OK " + line.trim());
                    } catch (Exception e) {
                        say("ERR " + line.trim() + " " + String.valueOf(e).replace('\n', ' '));
                    }
                }
            } catch (Exception e) {
                System.err.println("stdin: " + e);
            }
        }, "commands");
        commands.setDaemon(true);
        commands.start();

        say("READY");
        start.await();
        streams.start();
        done.await();
        System.exit(streams.state() == KafkaStreams.State.ERROR ? 1 : 0);
    }

    static void produce(KafkaProducer<String, String> producer, String topic, String file) throws Exception {
        List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> sent = new ArrayList<>();
        for (String l : Files.readAllLines(Paths.get(file), StandardCharsets.UTF_8)) {
            if (l.isEmpty()) continue;
            String[] f = l.split("\t");
            sent.add(producer.send(new ProducerRecord<>(topic, null, Long.parseLong(f[2]), f[0], f[1])));
        }
        producer.flush();
        for (var f : sent) f.get(); // every record acknowledged, or the command fails
        say("PRODUCED " + sent.size());
    }

    static void read(String bootstrap, String topic) {
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (var pi : consumer.partitionsFor(topic, Duration.ofSeconds(30))) tps.add(new TopicPartition(topic, pi.partition()));
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            Map<TopicPartition, Long> end = consumer.endOffsets(tps, Duration.ofSeconds(30));
            for (var e : consumer.beginningOffsets(tps, Duration.ofSeconds(30)).entrySet()) say("START " + e.getKey().partition() + " " + e.getValue());
            long deadline = System.currentTimeMillis() + 60_000;
            Set<TopicPartition> open = new HashSet<>(tps);
            while (true) {
                open.removeIf(tp -> consumer.position(tp, Duration.ofSeconds(30)) >= end.get(tp));
                if (open.isEmpty()) break;
                if (System.currentTimeMillis() > deadline) throw new IllegalStateException("did not reach the end of " + topic + " in 60 s");
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.offset() < end.get(new TopicPartition(r.topic(), r.partition())))
                        say("REC " + r.partition() + " " + r.offset() + " " + r.key() + " " + r.value());
                }
            }
        }
    }

    /** Records of the group's source topics and of the partitions it committed (repartition topics) that it has not committed yet. */
    static long lag(Admin admin, String group, List<String> sources) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        Map<TopicPartition, OffsetSpec> want = new HashMap<>();
        for (TopicPartition tp : committed.keySet()) want.put(tp, OffsetSpec.latest());
        Map<String, TopicDescription> d = admin.describeTopics(sources).allTopicNames().get(30, TimeUnit.SECONDS);
        for (TopicDescription t : d.values()) for (var pi : t.partitions()) want.put(new TopicPartition(t.name(), pi.partition()), OffsetSpec.latest());
        Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(want).all().get(30, TimeUnit.SECONDS);
        long lag = 0;
        for (var e : ends.entrySet()) {
            OffsetAndMetadata c = committed.get(e.getKey());
            lag += e.getValue().offset() - (c == null ? 0 : c.offset());
        }
        return lag;
    }

    static void configs(Admin admin, String topic) throws Exception {
        var res = org.apache.kafka.common.config.ConfigResource.Type.TOPIC;
        var r = new org.apache.kafka.common.config.ConfigResource(res, topic);
        for (var e : admin.describeConfigs(List.of(r)).all().get(30, TimeUnit.SECONDS).get(r).entries())
            if (!e.isDefault()) say("CONFIG " + e.name() + " " + e.value());
    }

    static void store(KafkaStreams streams, String name) {
        ReadOnlyKeyValueStore<String, Object> s = streams.store(StoreQueryParameters.fromNameAndType(name, QueryableStoreTypes.<String, Object>keyValueStore()));
        try (KeyValueIterator<String, Object> it = s.all()) {
            while (it.hasNext()) {
                KeyValue<String, Object> kv = it.next();
                say("KV " + kv.key + " " + kv.value);
            }
        }
    }
}
