import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A long-running group member for the consumer group e2e tests: a Java KafkaConsumer (classic
 * group protocol, or with --group-protocol consumer the KIP-848 protocol with a server-side
 * --remote-assignor) subscribed to one topic, printing JSON lines on stdout:
 *   {"event":"ready"}
 *   {"event":"assignment","partitions":[0,3]}        after every rebalance callback (current set)
 *   {"event":"record","partition":p,"offset":o,"value":"..."}
 *   {"event":"committed","offsets":{"p":nextOffset}} after each synchronous commit
 *   {"event":"closed"}
 * Records are printed before the commit of their poll batch (commitSync after every non-empty
 * poll), so a record printed after the last "committed" line of a killed member may be
 * delivered again to another member; nothing else may.
 * "close" (or EOF) on stdin closes the consumer cleanly (LeaveGroup).
 *
 * Usage: GroupConsumer --bootstrap H:P --group G --topic T [--assignor range|roundrobin|sticky|cooperative-sticky]
 *        [--session-timeout-ms MS] [--heartbeat-interval-ms MS] [--client-id ID] [--instance-id ID] [--config K=V ...]
 *        [--group-protocol classic|consumer] [--remote-assignor uniform|range] [--topic-regex RE]
 * --topic-regex (consumer protocol): subscribe to a SubscriptionPattern (resolved by the broker)
 * instead of --topic; "partitions" then lists "topic:partition" strings.
 * With the consumer protocol the assignor, session timeout and heartbeat interval are the
 * coordinator's (the client refuses them), so those flags are ignored.
 */
public final class GroupConsumer {
    static final PrintStream OUT = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);

    static synchronized void emit(String json) {
        OUT.println(json);
    }

    static String quote(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = new HashMap<>();
        List<String> configs = new ArrayList<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            if (argv[i].equals("--config")) configs.add(argv[i + 1]);
            else a.put(argv[i], argv[i + 1]);
        }
        String topic = a.get("--topic");
        String topicRegex = a.get("--topic-regex");
        String assignor = a.getOrDefault("--assignor", "range");
        String assignorClass;
        switch (assignor) {
            case "range": assignorClass = "org.apache.kafka.clients.consumer.RangeAssignor"; break;
            case "roundrobin": assignorClass = "org.apache.kafka.clients.consumer.RoundRobinAssignor"; break;
            case "sticky": assignorClass = "org.apache.kafka.clients.consumer.StickyAssignor"; break;
            case "cooperative-sticky": assignorClass = "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"; break;
            default: throw new IllegalArgumentException("unknown assignor " + assignor);
        }
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, a.get("--bootstrap"));
        p.put(ConsumerConfig.GROUP_ID_CONFIG, a.get("--group"));
        String protocol = a.getOrDefault("--group-protocol", "classic");
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        if (protocol.equals("classic")) {
            p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, assignorClass);
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, a.getOrDefault("--session-timeout-ms", "6000"));
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, a.getOrDefault("--heartbeat-interval-ms", "500"));
        } else if (a.containsKey("--remote-assignor")) {
            p.put(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG, a.get("--remote-assignor"));
        }
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "20");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        if (a.containsKey("--client-id")) p.put(ConsumerConfig.CLIENT_ID_CONFIG, a.get("--client-id"));
        if (a.containsKey("--instance-id")) p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, a.get("--instance-id"));
        for (String kv : configs) {
            int eq = kv.indexOf('=');
            p.put(kv.substring(0, eq), kv.substring(eq + 1));
        }

        KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p);
        // One topic: partition numbers; a regex: "topic:partition" strings.
        TreeSet<Integer> owned = new TreeSet<>();
        TreeSet<String> ownedTp = new TreeSet<>();
        Runnable printAssignment = () -> {
            StringBuilder b = new StringBuilder("{\"event\":\"assignment\",\"partitions\":[");
            List<String> items = new ArrayList<>();
            if (topicRegex == null) for (int part : owned) items.add(String.valueOf(part));
            else for (String tp : ownedTp) items.add(quote(tp));
            emit(b.append(String.join(",", items)).append("]}").toString());
        };
        ConsumerRebalanceListener listener = new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                for (TopicPartition tp : partitions) {
                    owned.remove(tp.partition());
                    ownedTp.remove(tp.topic() + ":" + tp.partition());
                }
                printAssignment.run();
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                for (TopicPartition tp : partitions) {
                    owned.add(tp.partition());
                    ownedTp.add(tp.topic() + ":" + tp.partition());
                }
                printAssignment.run();
            }

            @Override
            public void onPartitionsLost(Collection<TopicPartition> partitions) {
                for (TopicPartition tp : partitions) {
                    owned.remove(tp.partition());
                    ownedTp.remove(tp.topic() + ":" + tp.partition());
                }
                printAssignment.run();
            }
        };
        if (topicRegex != null) consumer.subscribe(new org.apache.kafka.clients.consumer.SubscriptionPattern(topicRegex), listener);
        else consumer.subscribe(List.of(topic), listener);

        Thread stdin = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.trim().equals("close")) break;
                }
            } catch (Exception e) {
                // treat as close
            }
            consumer.wakeup();
        });
        stdin.setDaemon(true);
        stdin.start();
        emit("{\"event\":\"ready\"}");

        try {
            while (true) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                if (records.isEmpty()) continue;
                Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                for (ConsumerRecord<String, String> rec : records) {
                    emit("{\"event\":\"record\",\"topic\":" + quote(rec.topic()) + ",\"partition\":" + rec.partition() + ",\"offset\":" + rec.offset() + ",\"value\":" + quote(rec.value()) + "}");
                    next.put(new TopicPartition(rec.topic(), rec.partition()), new OffsetAndMetadata(rec.offset() + 1));
                }
                try {
                    consumer.commitSync(next);
                } catch (WakeupException e) {
                    throw e;
                } catch (Exception e) {
                    emit("{\"event\":\"commit-failed\",\"error\":" + quote(e.getClass().getSimpleName() + ": " + e.getMessage()) + "}");
                    continue;
                }
                StringBuilder b = new StringBuilder("{\"event\":\"committed\",\"offsets\":{");
                boolean first = true;
                for (Map.Entry<TopicPartition, OffsetAndMetadata> e : next.entrySet()) {
                    if (!first) b.append(',');
                    b.append('"').append(e.getKey().partition()).append("\":").append(e.getValue().offset());
                    first = false;
                }
                emit(b.append("}}").toString());
            }
        } catch (WakeupException e) {
            // close requested
        }
        consumer.close();
        emit("{\"event\":\"closed\"}");
    }
}
