// Transactional scenarios of test/e2e/transactions.test.ts in one JVM (kafka-clients only).
// Prints one JSON line per event on stdout; exits 0 when the scenario ran (assertions are the test's).
//
//   TxnScenario all --bootstrap B --topic T --txn-id ID --group G
//     creates T-i (3 partitions), T-f, T-o and runs interleave, fence, offsets on them (ids ID-i, ID-f, ID-o).
//   TxnScenario interleave --bootstrap B --topic T --partitions N --txns K --txn-id ID
//     one transactional producer runs K transactions over all partitions (even: committed, odd: aborted),
//     a non-transactional idempotent producer writes between them; then a read_committed consumer reads
//     everything up to the end and a read_uncommitted one too.
//     events: {"event":"sent","kind":"c|a|n","value":...} {"event":"read","isolation":...,"values":[...]}
//   TxnScenario fence --bootstrap B --topic T --txn-id ID
//     producer 1 begins a transaction and sends; producer 2 (same id) initTransactions (aborting it);
//     producer 1's commit then fails (EndTxn with the old epoch). events: {"event":"fenced","producer":1,"error":class,"phase":...} {"event":"committed","producer":2}
//   TxnScenario offsets --bootstrap B --topic T --txn-id ID --group G
//     sendOffsetsToTransaction: one transaction commits offset 5 for partition 0, the next aborts 7.
//     events: {"event":"offsets","after":"commit|abort","offset":N}
//   TxnScenario open --bootstrap B --topic T --txn-id ID [--timeout-ms MS]
//     begins a transaction, sends, flushes, prints {"event":"open"} and waits for a line on stdin, then
//     tries to commit: {"event":"committed"} or {"event":"commit-failed","error":class}.
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class TxnScenario {
  static String arg(String[] a, String name, String def) {
    for (int i = 0; i < a.length - 1; i++) if (a[i].equals(name)) return a[i + 1];
    if (def == null) throw new IllegalArgumentException("missing " + name);
    return def;
  }

  static String q(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\');
      if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  static synchronized void emit(String json) {
    System.out.println(json);
    System.out.flush();
  }

  static Properties producerProps(String bootstrap, String txnId) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
    if (txnId != null) {
      p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
      p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "60000");
    }
    return p;
  }

  static List<String> readAll(String bootstrap, String topic, int partitions, String isolation) throws InterruptedException {
    Properties c = new Properties();
    c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
    c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    List<String> values = new ArrayList<>();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
      List<TopicPartition> tps = new ArrayList<>();
      for (int i = 0; i < partitions; i++) tps.add(new TopicPartition(topic, i));
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      // read_committed: the end offsets are the last stable offsets. A commit returns once the
      // coordinator wrote PrepareCommit (Kafka's order), the markers follow: wait until they are all
      // written (the last stable offsets reach the high watermarks) before reading.
      Map<TopicPartition, Long> end = consumer.endOffsets(tps);
      if (isolation.equals("read_committed")) {
        Properties u = new Properties();
        u.putAll(c);
        u.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        try (KafkaConsumer<String, String> hw = new KafkaConsumer<>(u)) {
          long until = System.currentTimeMillis() + 60_000;
          while (!end.equals(hw.endOffsets(tps)) && System.currentTimeMillis() < until) {
            Thread.sleep(100);
            end = consumer.endOffsets(tps);
          }
        }
      }
      long deadline = System.currentTimeMillis() + 60_000;
      while (System.currentTimeMillis() < deadline) {
        boolean done = true;
        for (TopicPartition tp : tps) if (consumer.position(tp) < end.get(tp)) done = false;
        if (done) break;
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) values.add(r.value());
      }
      StringBuilder ends = new StringBuilder("{");
      for (TopicPartition tp : tps) ends.append(ends.length() > 1 ? "," : "").append(q(String.valueOf(tp.partition()))).append(":").append(end.get(tp));
      ends.append("}");
      StringBuilder b = new StringBuilder("{\"event\":\"read\",\"isolation\":" + q(isolation) + ",\"end\":" + ends + ",\"values\":[");
      for (int i = 0; i < values.size(); i++) b.append(i > 0 ? "," : "").append(q(values.get(i)));
      emit(b.append("]}").toString());
    }
    return values;
  }

  public static void main(String[] a) throws Exception {
    String cmd = a[0];
    String bootstrap = arg(a, "--bootstrap", null);
    String topic = arg(a, "--topic", null);
    String txnId = arg(a, "--txn-id", null);
    if (cmd.equals("all")) {
      // every scenario in this one JVM, each on its own topic and transactional id
      try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
        admin.createTopics(List.of(new NewTopic(topic + "-i", 3, (short) 1), new NewTopic(topic + "-f", 1, (short) 1), new NewTopic(topic + "-o", 1, (short) 1))).all().get();
      }
      run("interleave", bootstrap, topic + "-i", txnId + "-i", a);
      run("fence", bootstrap, topic + "-f", txnId + "-f", a);
      run("offsets", bootstrap, topic + "-o", txnId + "-o", a);
      emit("{\"event\":\"done\"}");
      return;
    }
    run(cmd, bootstrap, topic, txnId, a);
  }

  static void run(String cmd, String bootstrap, String topic, String txnId, String[] a) throws Exception {
    emit("{\"event\":\"scenario\",\"name\":" + q(cmd) + "}");
    switch (cmd) {
      case "interleave": {
        int partitions = Integer.parseInt(arg(a, "--partitions", "3"));
        int txns = Integer.parseInt(arg(a, "--txns", "6"));
        try (KafkaProducer<String, String> tx = new KafkaProducer<>(producerProps(bootstrap, txnId));
            KafkaProducer<String, String> plain = new KafkaProducer<>(producerProps(bootstrap, null))) {
          tx.initTransactions();
          int n = 0;
          for (int t = 0; t < txns; t++) {
            boolean commit = t % 2 == 0;
            tx.beginTransaction();
            for (int j = 0; j < partitions * 2; j++) {
              String v = (commit ? "c-" : "a-") + t + "-" + j;
              tx.send(new ProducerRecord<>(topic, j % partitions, "k" + j, v));
              // a non-transactional record on the same partition, in the middle of the transaction
              if (j % 2 == 0) {
                String nv = "n-" + (n++);
                plain.send(new ProducerRecord<>(topic, j % partitions, "n", nv)).get();
                emit("{\"event\":\"sent\",\"kind\":\"n\",\"value\":" + q(nv) + "}");
              }
              emit("{\"event\":\"sent\",\"kind\":" + q(commit ? "c" : "a") + ",\"value\":" + q(v) + "}");
            }
            if (commit) tx.commitTransaction();
            else {
              tx.flush();
              tx.abortTransaction();
            }
            emit("{\"event\":\"ended\",\"txn\":" + t + ",\"commit\":" + commit + "}");
          }
        }
        readAll(bootstrap, topic, partitions, "read_committed");
        readAll(bootstrap, topic, partitions, "read_uncommitted");
        break;
      }
      case "fence": {
        KafkaProducer<String, String> p1 = new KafkaProducer<>(producerProps(bootstrap, txnId));
        p1.initTransactions();
        p1.beginTransaction();
        p1.send(new ProducerRecord<>(topic, 0, "k", "zombie-1")).get();
        try (KafkaProducer<String, String> p2 = new KafkaProducer<>(producerProps(bootstrap, txnId))) {
          p2.initTransactions(); // fences p1 and aborts its open transaction
          emit("{\"event\":\"initialized\",\"producer\":2}");
          String phase = "commit";
          try {
            p1.commitTransaction();
            emit("{\"event\":\"not-fenced\",\"producer\":1}");
          } catch (Exception e) {
            Throwable c = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e;
            emit("{\"event\":\"fenced\",\"producer\":1,\"phase\":" + q(phase) + ",\"error\":" + q(c.getClass().getSimpleName()) + ",\"message\":" + q(String.valueOf(c.getMessage())) + "}");
          }
          try {
            p1.close(Duration.ofSeconds(5));
          } catch (Exception ignored) {
          }
          p2.beginTransaction();
          p2.send(new ProducerRecord<>(topic, 0, "k", "current-1")).get();
          p2.commitTransaction();
          emit("{\"event\":\"committed\",\"producer\":2}");
        }
        readAll(bootstrap, topic, 1, "read_committed");
        break;
      }
      case "offsets": {
        String group = arg(a, "--group", null);
        TopicPartition tp0 = new TopicPartition(topic, 0);
        try (KafkaProducer<String, String> tx = new KafkaProducer<>(producerProps(bootstrap, txnId));
            Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
          tx.initTransactions();
          ConsumerGroupMetadata meta = new ConsumerGroupMetadata(group);
          tx.beginTransaction();
          tx.send(new ProducerRecord<>(topic, 0, "k", "o-1"));
          tx.sendOffsetsToTransaction(Map.of(tp0, new OffsetAndMetadata(5L, "txn")), meta);
          tx.commitTransaction();
          // require_stable: the offsets of a transaction still completing are waited for (UNSTABLE_OFFSET_COMMIT, retried)
          ListConsumerGroupOffsetsOptions stable = new ListConsumerGroupOffsetsOptions().requireStable(true);
          OffsetAndMetadata o = admin.listConsumerGroupOffsets(group, stable).partitionsToOffsetAndMetadata().get().get(tp0);
          emit("{\"event\":\"offsets\",\"after\":\"commit\",\"offset\":" + (o == null ? -1 : o.offset()) + "}");
          tx.beginTransaction();
          tx.send(new ProducerRecord<>(topic, 0, "k", "o-2"));
          tx.sendOffsetsToTransaction(Map.of(tp0, new OffsetAndMetadata(7L, "txn")), meta);
          tx.flush();
          tx.abortTransaction();
          o = admin.listConsumerGroupOffsets(group, stable).partitionsToOffsetAndMetadata().get().get(tp0);
          emit("{\"event\":\"offsets\",\"after\":\"abort\",\"offset\":" + (o == null ? -1 : o.offset()) + "}");
        }
        break;
      }
      case "open": {
        Properties props = producerProps(bootstrap, txnId);
        props.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, arg(a, "--timeout-ms", "60000"));
        KafkaProducer<String, String> tx = new KafkaProducer<>(props);
        tx.initTransactions();
        tx.beginTransaction();
        tx.send(new ProducerRecord<>(topic, 0, "k", "open-1")).get();
        tx.flush();
        emit("{\"event\":\"open\"}");
        new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine();
        // told to go on: try to commit (after the coordinator aborted it on timeout, this producer is fenced)
        try {
          tx.commitTransaction();
          emit("{\"event\":\"committed\"}");
        } catch (Exception e) {
          emit("{\"event\":\"commit-failed\",\"error\":" + q(e.getClass().getSimpleName()) + ",\"message\":" + q(String.valueOf(e.getMessage())) + "}");
        }
        try {
          tx.close(Duration.ofSeconds(5));
        } catch (Exception ignored) {
        }
        break;
      }
      default:
        throw new IllegalArgumentException("unknown command " + cmd);
    }
  }
}
