// Produce and consume a few messages with Apache Pulsar's own Java client (pulsar-client-original,
// in the jars of scripts/pulsar/fetch-pulsar.sh), authenticated with a token. Used by
// scripts/pulsar/smoke.sh; runs as a single-file program (no build step):
//
//   java -cp "$KOP_PULSAR_HOME/libs/*" scripts/pulsar/PulsarSmoke.java \
//        SERVICE_URL TOPIC COUNT TOKEN_FILE [DENIED_TOKEN_FILE]
//
// With TOKEN_FILE: produces COUNT messages (keys k0..kN-1, values "smoke-<i>-<nonce>") without
// batching, consumes them from the earliest position on a new subscription, and checks that every
// value came back and that each message carries broker entry metadata (index and broker publish
// time); prints one line per message and a summary. COUNT 0 skips this.
// With DENIED_TOKEN_FILE: checks that a producer for that token's role is refused as an
// authorization error. Exit code 0 when all checks pass.
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.pulsar.client.api.AuthenticationFactory;
import org.apache.pulsar.client.api.Consumer;
import org.apache.pulsar.client.api.Message;
import org.apache.pulsar.client.api.MessageId;
import org.apache.pulsar.client.api.Producer;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.PulsarClientException;
import org.apache.pulsar.client.api.Schema;
import org.apache.pulsar.client.api.SubscriptionInitialPosition;

public class PulsarSmoke {
    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: PulsarSmoke SERVICE_URL TOPIC COUNT TOKEN_FILE [DENIED_TOKEN_FILE]");
            System.exit(2);
        }
        String url = args[0], topic = args[1];
        int count = Integer.parseInt(args[2]);
        if (count > 0) {
            try (PulsarClient client = client(url, args[3])) {
                produceConsume(client, topic, count);
            }
        }
        if (args.length > 4) {
            try (PulsarClient client = client(url, args[4])) {
                expectDenied(client, topic);
            }
        }
    }

    static PulsarClient client(String url, String tokenFile) throws Exception {
        String token = Files.readString(Path.of(tokenFile)).trim();
        return PulsarClient.builder()
                .serviceUrl(url)
                .authentication(AuthenticationFactory.token(token))
                .operationTimeout(15, TimeUnit.SECONDS)
                .build();
    }

    static void produceConsume(PulsarClient client, String topic, int count) throws Exception {
        String nonce = UUID.randomUUID().toString().substring(0, 8);
        long t0 = System.nanoTime();
        try (Consumer<String> consumer = client.newConsumer(Schema.STRING)
                .topic(topic)
                .subscriptionName("smoke-" + nonce)
                .subscriptionInitialPosition(SubscriptionInitialPosition.Earliest)
                .subscribe();
             Producer<String> producer = client.newProducer(Schema.STRING)
                .topic(topic)
                .enableBatching(false)
                .create()) {
            Set<String> sent = new HashSet<>();
            for (int i = 0; i < count; i++) {
                String value = "smoke-" + i + "-" + nonce;
                MessageId id = producer.newMessage().key("k" + i).value(value).send();
                sent.add(value);
                System.out.println("sent     " + value + " key=k" + i + " id=" + id);
            }
            long tProduced = System.nanoTime();
            Set<String> received = new HashSet<>();
            int withIndex = 0;
            int earlier = 0;
            while (received.size() < count) {
                Message<String> m = consumer.receive(15, TimeUnit.SECONDS);
                if (m == null) {
                    break;
                }
                consumer.acknowledge(m);
                if (!m.getValue().endsWith("-" + nonce)) {
                    earlier++; // written by an earlier run on the same topic
                    continue;
                }
                received.add(m.getValue());
                boolean hasMeta = m.hasIndex() && m.hasBrokerPublishTime();
                if (hasMeta) {
                    withIndex++;
                }
                System.out.println("received " + m.getValue() + " key=" + m.getKey() + " topic=" + m.getTopicName()
                        + " index=" + m.getIndex().map(String::valueOf).orElse("-")
                        + " brokerPublishTime=" + m.getBrokerPublishTime().map(String::valueOf).orElse("-"));
            }
            long tDone = System.nanoTime();
            Set<String> missing = new HashSet<>(sent);
            missing.removeAll(received);
            System.out.printf("produced %d in %d ms, consumed %d in %d ms, %d with broker entry metadata, %d earlier messages%n",
                    count, (tProduced - t0) / 1_000_000, received.size(), (tDone - tProduced) / 1_000_000, withIndex, earlier);
            if (!missing.isEmpty()) {
                System.err.println("FAIL: not received: " + missing);
                System.exit(1);
            }
            if (withIndex != count) {
                System.err.println("FAIL: " + (count - withIndex) + " messages without broker entry metadata (index)");
                System.exit(1);
            }
            consumer.unsubscribe();
        }
    }

    static void expectDenied(PulsarClient client, String topic) throws Exception {
        try (Producer<byte[]> p = client.newProducer().topic(topic).create()) {
            System.err.println("FAIL: producer created on " + topic + " although it should be denied");
            System.exit(1);
        } catch (PulsarClientException.AuthorizationException e) {
            System.out.println("denied as expected: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }
}
