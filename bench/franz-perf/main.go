// franz-perf: a Kafka producer load generator on franz-go (github.com/twmb/franz-go), for the
// benchmark's "produce with a client that is not the bottleneck" rows (bench/lib/franz.ts).
//
// Kafka's ProducerPerformance (Java) needs ~1 ms of client CPU per request on the benchmark's
// 2-core machine and caps near Apache Kafka's own rate there; franz-go with the same window
// (5 requests of 16 KiB batches in flight, linger 5 ms, acks=all, no compression) costs the
// machine far less, so the server's own speed shows. franz-go allows one request in flight with
// its idempotent producer, so idempotence is off (5 in flight, as the Java producer's window).
//
// It prints ProducerPerformance's summary lines (total, and "steady state" after --warmup-records),
// so bench/kafka-reference/perf.ts parses both alike. Exit 1 when any record failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ensureTopic asks for the topic's metadata (creating it, as auto-creation does) until every
// partition has a leader, so that the timed part does not include a client's back-off while a
// new topic gets its leader (seconds with franz-go's default back-off).
func ensureTopic(cl *kgo.Client, topic string, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		req := kmsg.NewPtrMetadataRequest()
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, t)
		req.AllowAutoTopicCreation = true
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := req.RequestWith(ctx, cl)
		cancel()
		last = err
		if err == nil && len(resp.Topics) == 1 {
			rt := resp.Topics[0]
			last = fmt.Errorf("topic %s: error code %d, %d partitions", topic, rt.ErrorCode, len(rt.Partitions))
			ready := rt.ErrorCode == 0 && len(rt.Partitions) > 0
			for _, p := range rt.Partitions {
				if p.ErrorCode != 0 || p.Leader < 0 {
					ready = false
				}
			}
			if ready {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// produceStats records every Produce request's timing as the client saw it (kgo.HookBrokerE2E):
// from the start of its write to the end of its response's read, and how long the request waited
// to be written, so that a report can split a server's time from the client's.
type produceStats struct {
	mu                       sync.Mutex
	n                        int
	e2e, writeWait, readWait time.Duration
}

func (p *produceStats) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e kgo.BrokerE2E) {
	if key != 0 || e.WriteErr != nil || e.ReadErr != nil {
		return
	}
	p.mu.Lock()
	p.n++
	p.e2e += e.DurationE2E()
	p.writeWait += e.WriteWait
	p.readWait += e.ReadWait
	p.mu.Unlock()
}

func (p *produceStats) print(elapsed time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == 0 {
		return
	}
	avg := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(p.n) }
	fmt.Printf("produce requests: %d, %.1f/s, %.3f ms avg write-to-response-read, %.3f ms avg wait to be written, %.3f ms avg between write and read start.\n",
		p.n, float64(p.n)/elapsed.Seconds(), avg(p.e2e), avg(p.writeWait), avg(p.readWait))
}

type summary struct {
	records int
	elapsed time.Duration
	lat     []float64 // ms, sorted
	size    int
	steady  bool
}

func (s summary) print() {
	sum := 0.0
	for _, l := range s.lat {
		sum += l
	}
	n := len(s.lat)
	pct := func(p float64) float64 { return s.lat[int(float64(n-1)*p)] }
	rate := float64(s.records) / s.elapsed.Seconds()
	label := "records sent"
	if s.steady {
		label = "steady state records sent"
	}
	fmt.Printf("%d %s, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %.0f ms 50th, %.0f ms 95th, %.0f ms 99th, %.0f ms 99.9th.\n",
		s.records, label, rate, rate*float64(s.size)/(1<<20), sum/float64(n), s.lat[n-1], pct(0.50), pct(0.95), pct(0.99), pct(0.999))
}

func main() {
	bootstrap := flag.String("bootstrap-server", "", "host:port")
	topic := flag.String("topic", "", "topic")
	n := flag.Int("num-records", 100000, "records to send")
	size := flag.Int("record-size", 1024, "bytes per record value")
	warmup := flag.Int("warmup-records", 0, "first records left out of the steady-state line")
	inflight := flag.Int("max-in-flight", 5, "produce requests in flight per broker")
	batch := flag.Int("batch-bytes", 16384, "batch size limit")
	linger := flag.Duration("linger", 5*time.Millisecond, "linger")
	flag.Parse()
	if *bootstrap == "" || *topic == "" || *n <= *warmup {
		fmt.Fprintln(os.Stderr, "usage: franz-perf --bootstrap-server H:P --topic T [--num-records N] [--record-size B] [--warmup-records W < N]")
		os.Exit(2)
	}
	stats := &produceStats{}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(*bootstrap),
		kgo.WithHooks(stats),
		kgo.DefaultProduceTopic(*topic),
		kgo.AllowAutoTopicCreation(),
		kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxProduceRequestsInflightPerBroker(*inflight),
		kgo.ProducerBatchMaxBytes(int32(*batch)),
		kgo.ProducerLinger(*linger),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.MaxBufferedRecords(8192),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer cl.Close()
	if err := ensureTopic(cl, *topic, 60*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "topic not ready:", err)
		os.Exit(1)
	}
	value := make([]byte, *size)
	for i := range value {
		value[i] = byte('A' + i%26)
	}
	lat := make([]float64, *n)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	var steadyStart time.Time
	start := time.Now()
	for i := 0; i < *n; i++ {
		if i == *warmup {
			steadyStart = time.Now()
		}
		wg.Add(1)
		idx, sent := i, time.Now()
		// Produce blocks while MaxBufferedRecords are buffered: the client's own back-pressure
		cl.Produce(context.Background(), &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			lat[idx] = float64(time.Since(sent).Microseconds()) / 1000
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
			wg.Done()
		})
	}
	wg.Wait()
	end := time.Now()
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "%d of %d records failed, first: %v\n", f, *n, firstErr.Load())
		os.Exit(1)
	}
	stats.print(end.Sub(start))
	all := append([]float64(nil), lat...)
	sort.Float64s(all)
	summary{records: *n, elapsed: end.Sub(start), lat: all, size: *size}.print()
	if *warmup > 0 {
		steady := append([]float64(nil), lat[*warmup:]...)
		sort.Float64s(steady)
		summary{records: *n - *warmup, elapsed: end.Sub(steadyStart), lat: steady, size: *size, steady: true}.print()
	}
}
