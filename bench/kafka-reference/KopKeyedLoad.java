import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Keyed load for the compaction benchmark (bench/compaction.ts): ProducerPerformance sends no keys,
 * which a compacted topic refuses. Sends N records with keys key-(i mod K) and values of S bytes,
 * as fast as possible, and prints one line: "records=N seconds=T recordsPerSec=R mbPerSec=M".
 *
 * Usage: KopKeyedLoad bootstrap topic records keys valueSize [acks]
 */
public class KopKeyedLoad {
    public static void main(String[] a) throws Exception {
        String bootstrap = a[0], topic = a[1];
        long n = Long.parseLong(a[2]);
        int keys = Integer.parseInt(a[3]);
        int size = Integer.parseInt(a[4]);
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", a.length > 5 ? a[5] : "all");
        p.put("linger.ms", "5");
        p.put("batch.size", "16384");
        p.put("compression.type", "none");
        p.put("key.serializer", ByteArraySerializer.class.getName());
        p.put("value.serializer", ByteArraySerializer.class.getName());
        byte[] value = new byte[size];
        for (int i = 0; i < size; i++) value[i] = (byte) ('a' + i % 26);
        AtomicReference<Exception> failed = new AtomicReference<>();
        AtomicLong acked = new AtomicLong();
        long start = System.nanoTime();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            for (long i = 0; i < n && failed.get() == null; i++) {
                byte[] key = ("key-" + (i % keys)).getBytes();
                producer.send(new ProducerRecord<>(topic, key, value), (md, e) -> {
                    if (e != null) failed.compareAndSet(null, e);
                    else acked.incrementAndGet();
                });
            }
            producer.flush();
        }
        double secs = (System.nanoTime() - start) / 1e9;
        if (failed.get() != null) {
            System.err.println("send failed: " + failed.get());
            System.exit(1);
        }
        long bytes = acked.get() * (size + 8L);
        System.out.printf("records=%d seconds=%.3f recordsPerSec=%.1f mbPerSec=%.3f%n", acked.get(), secs, acked.get() / secs, bytes / secs / 1048576.0);
    }
}
