import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * An idempotent Java KafkaProducer (acks=all, enable.idempotence=true, retries) that writes
 * until told to stop, for the e2e tests that disturb the gateway or its storage meanwhile.
 * Every tick it sends one record to each partition, values "<partition>-<n>" (unique). Prints
 * JSON lines on stdout, each send's outcome as the producer reports it:
 *   {"event":"ready"}
 *   {"event":"ack","value":"2-17","partition":2,"offset":17}
 *   {"event":"error","value":"2-18","partition":2,"error":"TimeoutException","retriable":true,"message":"..."}
 *   {"event":"closed","sent":N}
 * The client's own retries of retriable errors are logged by kafka-clients at WARN on stderr.
 * "close" (or EOF) on stdin: stop sending, flush, close.
 *
 * Usage: ContinuousProducer --bootstrap H:P --topic T --partitions N [--interval-ms MS] [--config K=V ...]
 */
public final class ContinuousProducer {
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
        int partitions = Integer.parseInt(a.getOrDefault("--partitions", "1"));
        long intervalMs = Long.parseLong(a.getOrDefault("--interval-ms", "20"));
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, a.get("--bootstrap"));
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.RETRIES_CONFIG, String.valueOf(Integer.MAX_VALUE));
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "180000");
        p.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, "200");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        for (String kv : configs) {
            int eq = kv.indexOf('=');
            p.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        AtomicBoolean stop = new AtomicBoolean(false);
        Thread stdin = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.trim().equals("close")) break;
                }
            } catch (Exception e) {
                // treat as close
            }
            stop.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();

        long sent = 0;
        long[] next = new long[partitions];
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            emit("{\"event\":\"ready\"}");
            while (!stop.get()) {
                for (int part = 0; part < partitions; part++) {
                    final String value = part + "-" + (next[part]++);
                    final int partition = part;
                    sent++;
                    producer.send(new ProducerRecord<>(topic, partition, null, value), (md, e) -> {
                        if (e == null) {
                            emit("{\"event\":\"ack\",\"value\":" + quote(value) + ",\"partition\":" + md.partition() + ",\"offset\":" + md.offset() + "}");
                        } else {
                            emit("{\"event\":\"error\",\"value\":" + quote(value) + ",\"partition\":" + partition + ",\"error\":" + quote(e.getClass().getSimpleName())
                                + ",\"retriable\":" + (e instanceof RetriableException) + ",\"message\":" + quote(String.valueOf(e.getMessage())) + "}");
                        }
                    });
                }
                Thread.sleep(intervalMs);
            }
            producer.flush();
        }
        emit("{\"event\":\"closed\",\"sent\":" + sent + "}");
    }
}
