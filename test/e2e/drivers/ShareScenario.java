/*
 * Share-group scenarios (KIP-932) with Apache Kafka's KafkaShareConsumer, in one JVM, for
 * test/e2e/share-groups.test.ts. Prints one JSON line per event; the test asserts on them:
 *
 *   {"ev":"produced","phase":P,"values":[...]}
 *   {"ev":"record","phase":P,"consumer":C,"partition":N,"offset":N,"value":V,"deliveryCount":N,"ack":"ACCEPT|RELEASE|REJECT|none"}
 *   {"ev":"commit","phase":P,"consumer":C,"errors":["..."]}        (commitSync results, error class names)
 *   {"ev":"done","phase":P}
 *   {"ev":"error","message":...}
 *
 * Phases (the gateway runs with share.auto.offset.reset=earliest and a short lock duration):
 *   ack       - one consumer, explicit acknowledgement: v0,v1 accepted, v2 released, v3 rejected,
 *               v4 accepted; it polls on: v2 comes back with delivery count 2 (accepted), v3 never.
 *   lock      - consumer B acquires v5 and does not acknowledge; A polls and gets v5 again once
 *               B's acquisition lock expires (delivery count 2); B's late accept is refused.
 *   share     - two consumers of one group poll one topic concurrently (5 records a fetch):
 *               each record is delivered to exactly one of them.
 *
 * Usage: ShareScenario <bootstrap> <topic> <group> <shareTopic> <shareGroup> <seconds>
 *
 * Or, for several gateway nodes: ShareScenario nodes <bootstrap1> <bootstrap2> <topic> <group> <seconds> <count>
 *   nodes     - consumer n1 bootstrapped to node 1 and n2 to node 2 (one share group), explicit
 *               accept of every record and commitSync; <count> records produced one by one while
 *               both poll. Every record must be delivered once, accepted once, by either of them.
 *
 * Or: ShareScenario queue <bootstrap> <topic> <group> <seconds> <count>
 *   queue     - one share consumer accepts what it gets until <seconds> pass; <count> records are
 *               produced one by one after 5 s (a Pulsar consumer may share the subscription).
 */
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicIdPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class ShareScenario {
  static String bootstrap;
  static long deadline;

  static String q(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  static synchronized void emit(String json) {
    System.out.println(json);
    System.out.flush();
  }

  static KafkaShareConsumer<String, String> consumer(String group, String clientId, boolean explicit, int maxPollRecords) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("group.id", group);
    p.put("client.id", clientId);
    p.put("share.acknowledgement.mode", explicit ? "explicit" : "implicit");
    p.put("max.poll.records", String.valueOf(maxPollRecords));
    p.put("request.timeout.ms", "15000");
    return new KafkaShareConsumer<>(p, new StringDeserializer(), new StringDeserializer());
  }

  static void produce(String phase, String topic, List<String> values) throws Exception {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("linger.ms", "0");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
      for (String v : values) producer.send(new ProducerRecord<>(topic, null, v)).get();
    }
    StringBuilder b = new StringBuilder();
    for (String v : values) b.append(b.length() == 0 ? "" : ",").append(q(v));
    emit("{\"ev\":\"produced\",\"phase\":" + q(phase) + ",\"values\":[" + b + "]}");
  }

  static void record(String phase, String consumer, ConsumerRecord<String, String> r, String ack) {
    Optional<Short> dc = r.deliveryCount();
    emit("{\"ev\":\"record\",\"phase\":" + q(phase) + ",\"consumer\":" + q(consumer) + ",\"partition\":" + r.partition() + ",\"offset\":" + r.offset()
        + ",\"value\":" + q(r.value()) + ",\"deliveryCount\":" + (dc.isPresent() ? dc.get() : -1) + ",\"ack\":" + q(ack) + "}");
  }

  static void commit(String phase, String consumer, KafkaShareConsumer<String, String> c) {
    Map<TopicIdPartition, Optional<KafkaException>> result = c.commitSync(Duration.ofSeconds(15));
    StringBuilder b = new StringBuilder();
    for (Optional<KafkaException> e : result.values()) {
      if (e.isPresent()) b.append(b.length() == 0 ? "" : ",").append(q(e.get().getClass().getSimpleName()));
    }
    emit("{\"ev\":\"commit\",\"phase\":" + q(phase) + ",\"consumer\":" + q(consumer) + ",\"errors\":[" + b + "]}");
  }

  static AcknowledgeType planned(String value) {
    switch (value) {
      case "v2": return AcknowledgeType.RELEASE;
      case "v3": return AcknowledgeType.REJECT;
      default: return AcknowledgeType.ACCEPT;
    }
  }

  public static void main(String[] args) throws Exception {
    if (args[0].equals("nodes")) {
      deadline = System.currentTimeMillis() + Long.parseLong(args[5]) * 1000L;
      try {
        phaseNodes(args[1], args[2], args[3], args[4], Integer.parseInt(args[6]));
      } catch (Throwable t) {
        emit("{\"ev\":\"error\",\"message\":" + q(t.toString()) + "}");
        System.exit(1);
      }
      System.exit(0);
    }
    if (args[0].equals("queue")) {
      deadline = System.currentTimeMillis() + Long.parseLong(args[4]) * 1000L;
      try {
        phaseQueue(args[1], args[2], args[3], Integer.parseInt(args[5]));
      } catch (Throwable t) {
        emit("{\"ev\":\"error\",\"message\":" + q(t.toString()) + "}");
        System.exit(1);
      }
      System.exit(0);
    }
    bootstrap = args[0];
    String topic = args[1];
    String group = args[2];
    String shareTopic = args[3];
    String shareGroup = args[4];
    deadline = System.currentTimeMillis() + Long.parseLong(args[5]) * 1000L;
    try {
      phaseAck(topic, group);
      phaseLock(topic, group);
      phaseShare(shareTopic, shareGroup);
    } catch (Throwable t) {
      emit("{\"ev\":\"error\",\"message\":" + q(t.toString()) + "}");
      System.exit(1);
    }
    System.exit(0);
  }

  /** v0..v4 with accept / release / reject; then v2 again (delivery 2) and nothing else for a while. */
  static void phaseAck(String topic, String group) throws Exception {
    try (KafkaShareConsumer<String, String> a = consumer(group, "share-a", true, 500)) {
      a.subscribe(List.of(topic));
      produce("ack", topic, List.of("v0", "v1", "v2", "v3", "v4"));
      int seen = 0;
      boolean redelivered = false;
      long quietUntil = Long.MAX_VALUE;
      while (System.currentTimeMillis() < Math.min(deadline, quietUntil)) {
        ConsumerRecords<String, String> rs = a.poll(Duration.ofMillis(500));
        for (ConsumerRecord<String, String> r : rs) {
          seen++;
          boolean again = r.deliveryCount().orElse((short) 1) > 1;
          AcknowledgeType t = again ? AcknowledgeType.ACCEPT : planned(r.value());
          a.acknowledge(r, t);
          record("ack", "a", r, t.name());
          if (again && r.value().equals("v2")) {
            redelivered = true;
            // keep polling a little: a rejected record must not come back
            quietUntil = System.currentTimeMillis() + 3000;
          }
        }
        if (!rs.isEmpty()) commit("ack", "a", a);
      }
      emit("{\"ev\":\"done\",\"phase\":\"ack\",\"seen\":" + seen + ",\"redelivered\":" + redelivered + "}");
    }
  }

  /** B takes v5 and sits on it; A gets it after B's lock expires; B's late accept fails. */
  static void phaseLock(String topic, String group) throws Exception {
    try (KafkaShareConsumer<String, String> a = consumer(group, "share-a", true, 500);
         KafkaShareConsumer<String, String> b = consumer(group, "share-b", true, 500)) {
      b.subscribe(List.of(topic));
      // B joins first and polls until it holds v5
      produce("lock", topic, List.of("v5"));
      List<ConsumerRecord<String, String>> held = new ArrayList<>();
      while (held.isEmpty() && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<String, String> r : b.poll(Duration.ofMillis(500))) {
          held.add(r);
          record("lock", "b", r, "none");
        }
      }
      a.subscribe(List.of(topic));
      boolean got = false;
      while (!got && System.currentTimeMillis() < deadline) {
        ConsumerRecords<String, String> rs = a.poll(Duration.ofMillis(500));
        for (ConsumerRecord<String, String> r : rs) {
          a.acknowledge(r, AcknowledgeType.ACCEPT);
          record("lock", "a", r, "ACCEPT");
          if (r.value().equals("v5")) got = true;
        }
        if (!rs.isEmpty()) commit("lock", "a", a);
      }
      for (ConsumerRecord<String, String> r : held) b.acknowledge(r, AcknowledgeType.ACCEPT);
      commit("lock", "b", b);
      emit("{\"ev\":\"done\",\"phase\":\"lock\"}");
    }
  }

  /** Two consumers, implicit acknowledgement, 5 records a poll, polling concurrently. */
  static void phaseShare(String topic, String group) throws Exception {
    List<String> values = new ArrayList<>();
    for (int i = 0; i < 40; i++) values.add("s" + i);
    Map<String, Boolean> seen = new ConcurrentHashMap<>();
    AtomicBoolean stop = new AtomicBoolean(false);
    List<Thread> threads = new ArrayList<>();
    for (String name : List.of("c1", "c2")) {
      Thread t = new Thread(() -> {
        try (KafkaShareConsumer<String, String> c = consumer(group, "share-" + name, false, 5)) {
          c.subscribe(List.of(topic));
          while (!stop.get() && System.currentTimeMillis() < deadline) {
            ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(300));
            for (ConsumerRecord<String, String> r : rs) {
              record("share", name, r, "ACCEPT");
              seen.put(r.value(), true);
            }
            if (!rs.isEmpty()) {
              c.commitSync(Duration.ofSeconds(15));
              Thread.sleep(150); // let the other member take its share
            }
          }
        } catch (Throwable e) {
          emit("{\"ev\":\"error\",\"message\":" + q(e.toString()) + "}");
        }
      });
      threads.add(t);
      t.start();
    }
    Thread.sleep(1500); // both members joined and fetching
    produce("share", topic, values);
    while (seen.size() < values.size() && System.currentTimeMillis() < deadline) Thread.sleep(100);
    Thread.sleep(1000); // anything delivered twice would show up now
    stop.set(true);
    for (Thread t : threads) t.join(20_000);
    emit("{\"ev\":\"done\",\"phase\":\"share\"}");
  }

  /** Two members of one share group, each bootstrapped to another gateway node; explicit accept of everything. */
  static void phaseNodes(String bootstrap1, String bootstrap2, String topic, String group, int count) throws Exception {
    List<String> values = new ArrayList<>();
    for (int i = 0; i < count; i++) values.add("n" + i);
    Map<String, Boolean> seen = new ConcurrentHashMap<>();
    AtomicBoolean stop = new AtomicBoolean(false);
    List<Thread> threads = new ArrayList<>();
    String[][] members = { { "n1", bootstrap1 }, { "n2", bootstrap2 } };
    for (String[] m : members) {
      Thread t = new Thread(() -> {
        Properties p = new Properties();
        p.put("bootstrap.servers", m[1]);
        p.put("group.id", group);
        p.put("client.id", "share-" + m[0]);
        p.put("share.acknowledgement.mode", "explicit");
        p.put("max.poll.records", "5");
        p.put("request.timeout.ms", "15000");
        try (KafkaShareConsumer<String, String> c = new KafkaShareConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
          c.subscribe(List.of(topic));
          while (!stop.get() && System.currentTimeMillis() < deadline) {
            ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(300));
            for (ConsumerRecord<String, String> r : rs) {
              c.acknowledge(r, AcknowledgeType.ACCEPT);
              record("nodes", m[0], r, "ACCEPT");
              seen.put(r.value(), true);
            }
            if (!rs.isEmpty()) commit("nodes", m[0], c);
          }
        } catch (Throwable e) {
          emit("{\"ev\":\"error\",\"message\":" + q(e.toString()) + "}");
        }
      });
      threads.add(t);
      t.start();
    }
    Thread.sleep(3000); // both members joined and fetching
    bootstrap = bootstrap1;
    produce("nodes", topic, values);
    while (seen.size() < values.size() && System.currentTimeMillis() < deadline) Thread.sleep(100);
    Thread.sleep(2000); // anything delivered twice would show up now
    stop.set(true);
    for (Thread t : threads) t.join(20_000);
    emit("{\"ev\":\"done\",\"phase\":\"nodes\"}");
  }

  /** One share consumer, explicit accept, until the deadline; `count` records produced after 3 s. */
  static void phaseQueue(String server, String topic, String group, int count) throws Exception {
    bootstrap = server;
    try (KafkaShareConsumer<String, String> c = consumer(group, "share-q", true, 5)) {
      c.subscribe(List.of(topic));
      long produceAt = System.currentTimeMillis() + 5000;
      boolean produced = false;
      while (System.currentTimeMillis() < deadline) {
        if (!produced && System.currentTimeMillis() >= produceAt) {
          List<String> values = new ArrayList<>();
          for (int i = 0; i < count; i++) values.add("q" + i);
          produce("queue", topic, values);
          produced = true;
        }
        ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(300));
        for (ConsumerRecord<String, String> r : rs) {
          c.acknowledge(r, AcknowledgeType.ACCEPT);
          record("queue", "k", r, "ACCEPT");
        }
        if (!rs.isEmpty()) commit("queue", "k", c);
      }
    }
    emit("{\"ev\":\"done\",\"phase\":\"queue\"}");
  }
}
