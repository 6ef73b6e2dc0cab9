import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.pulsar.client.api.AuthenticationFactory;
import org.apache.pulsar.client.api.Message;
import org.apache.pulsar.client.api.MessageId;
import org.apache.pulsar.client.api.Producer;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.Reader;

/**
 * The native Pulsar baseline of `npm run bench` (bench/lib/pulsar-native.ts): a Pulsar Java
 * client producer and reader on the same broker and settings as the gateway-pulsar targets, with
 * the output format of Kafka's ProducerPerformance / ConsumerPerformance, so the benchmark parses
 * both alike.
 *
 *   produce: --service-url U --token-file F --topic T --num-records N --record-size S
 *            [--throughput R] [--warmup-records W] [--max-pending P] [--batch-delay-ms 5] [--batch-bytes 16384]
 *     async sends, batching like the Kafka producer (linger 5 ms, 16 KiB batches), at most P
 *     messages in flight (blockIfQueueFull); latency = send to receipt. Prints
 *     "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, p50 ms 50th, ..."
 *     for all records and, with W, "N steady state records sent, ..." for the records after W.
 *   read: --service-url U --token-file F --topic T --num-records N [--timeout-ms 15000]
 *     a Reader from the earliest message; prints ConsumerPerformance's header and one line.
 */
public final class PulsarPerf {
    public static void main(String[] argv) throws Exception {
        if (argv.length == 0) throw new IllegalArgumentException("usage: PulsarPerf produce|read --service-url U --token-file F --topic T ...");
        Map<String, String> a = new HashMap<>();
        for (int i = 1; i + 1 < argv.length; i += 2) a.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
        String token = new String(Files.readAllBytes(Paths.get(a.get("token-file"))), StandardCharsets.UTF_8).trim();
        try (PulsarClient client = PulsarClient.builder()
                .serviceUrl(a.get("service-url"))
                .authentication(AuthenticationFactory.token(token))
                .operationTimeout(60, TimeUnit.SECONDS)
                .build()) {
            if (argv[0].equals("produce")) produce(client, a);
            else if (argv[0].equals("read")) read(client, a);
            else throw new IllegalArgumentException("unknown mode " + argv[0]);
        }
    }

    static long num(Map<String, String> a, String k, long dflt) {
        String v = a.get(k);
        return v == null ? dflt : Long.parseLong(v);
    }

    static void produce(PulsarClient client, Map<String, String> a) throws Exception {
        final int n = (int) num(a, "num-records", 0);
        final int size = (int) num(a, "record-size", 1024);
        final long throughput = num(a, "throughput", -1);
        final int warmup = (int) num(a, "warmup-records", 0);
        final int maxPending = (int) num(a, "max-pending", 1000);
        Producer<byte[]> producer = client.newProducer()
                .topic(a.get("topic"))
                .enableBatching(true)
                .batchingMaxPublishDelay(num(a, "batch-delay-ms", 5), TimeUnit.MILLISECONDS)
                .batchingMaxBytes((int) num(a, "batch-bytes", 16384))
                .batchingMaxMessages(Math.max(1000, maxPending))
                .maxPendingMessages(maxPending)
                .blockIfQueueFull(true)
                .sendTimeout(0, TimeUnit.SECONDS)
                .create();
        byte[] payload = new byte[size];
        Arrays.fill(payload, (byte) 'x');
        final long[] latencyUs = new long[n];
        final long[] ackAt = new long[n];
        final CountDownLatch done = new CountDownLatch(n);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        long start = System.nanoTime();
        long steadyStart = start;
        for (int i = 0; i < n; i++) {
            if (throughput > 0) {
                long due = start + (long) (i * 1e9 / throughput);
                long wait = due - System.nanoTime();
                if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
            }
            if (i == warmup) steadyStart = System.nanoTime();
            final int k = i;
            final long sentAt = System.nanoTime();
            producer.sendAsync(payload).whenComplete((id, err) -> {
                long now = System.nanoTime();
                if (err != null) failure.compareAndSet(null, err);
                latencyUs[k] = (now - sentAt) / 1000;
                ackAt[k] = now;
                done.countDown();
            });
        }
        producer.flush();
        if (!done.await(10, TimeUnit.MINUTES)) throw new IllegalStateException("sends not acknowledged within 10 minutes");
        if (failure.get() != null) throw new IllegalStateException("a send failed", failure.get());
        producer.close();
        long end = 0;
        for (long t : ackAt) end = Math.max(end, t);
        System.out.println(summary(latencyUs, 0, n, size, end - start, ""));
        if (warmup > 0 && warmup < n) System.out.println(summary(latencyUs, warmup, n, size, end - steadyStart, "steady state "));
    }

    /** One ProducerPerformance summary line over records [from, to). */
    static String summary(long[] latencyUs, int from, int to, int size, long elapsedNs, String kind) {
        int count = to - from;
        long[] l = Arrays.copyOfRange(latencyUs, from, to);
        Arrays.sort(l);
        double sum = 0;
        for (long x : l) sum += x;
        double secs = elapsedNs / 1e9;
        double rate = count / secs;
        return String.format(java.util.Locale.ROOT,
                "%d %srecords sent, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.",
                count, kind, rate, rate * size / (1024.0 * 1024.0), sum / count / 1000.0, l[count - 1] / 1000.0,
                pct(l, 0.5), pct(l, 0.95), pct(l, 0.99), pct(l, 0.999));
    }

    static long pct(long[] sortedUs, double p) {
        return sortedUs[Math.min(sortedUs.length - 1, (int) (sortedUs.length * p))] / 1000;
    }

    static void read(PulsarClient client, Map<String, String> a) throws Exception {
        final long n = num(a, "num-records", 0);
        final long timeoutMs = num(a, "timeout-ms", 15_000);
        long start = System.currentTimeMillis();
        Reader<byte[]> reader = client.newReader().topic(a.get("topic")).startMessageId(MessageId.earliest).receiverQueueSize(1000).create();
        long ready = System.currentTimeMillis();
        long count = 0;
        long bytes = 0;
        while (count < n) {
            Message<byte[]> m = reader.readNext((int) timeoutMs, TimeUnit.MILLISECONDS);
            if (m == null) break;
            count++;
            bytes += m.getData().length;
        }
        long end = System.currentTimeMillis();
        reader.close();
        double mb = bytes / (1024.0 * 1024.0);
        double total = Math.max(1, end - start) / 1000.0;
        double fetch = Math.max(1, end - ready) / 1000.0;
        System.out.println("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec");
        System.out.println(String.format(java.util.Locale.ROOT, "%d, %d, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f",
                start, end, mb, mb / total, count, count / total, ready - start, end - ready, mb / fetch, count / fetch));
    }
}
