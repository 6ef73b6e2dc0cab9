// franz-fetch: a franz-go (kgo) consumer for test/e2e/fetch-sessions.test.ts.
//
//	franz-fetch <bootstrap> <sasl-user> <sasl-password> <topic> <records>
//
// 1. reads Metadata for __consumer_offsets and reports whether it is internal;
// 2. consumes <records> records of <topic> with a direct consumer over all its
//    partitions (franz-go uses incremental fetch sessions);
// 3. consumes them again with a regex consumer whose pattern also matches
//    __consumer_offsets: internal topics never match a regex, so only <topic>'s
//    records arrive, and the consumer starts without waiting for metadata.
//
// Prints one JSON line: {"values": [...], "regexValues": n, "regexMs": ms, "internalListed": bool}.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 6 {
		fail("usage: franz-fetch <bootstrap> <user> <password> <topic> <records>")
	}
	bootstrap, user, password, topic := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	want, err := strconv.Atoi(os.Args[5])
	if err != nil {
		fail("records: %v", err)
	}
	auth := kgo.SASL(plain.Auth{User: user, Pass: password}.AsMechanism())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()

	admin, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), auth)
	if err != nil {
		fail("client: %v", err)
	}
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("__consumer_offsets")
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, admin)
	if err != nil {
		fail("metadata: %v", err)
	}
	internal := false
	for _, t := range resp.Topics {
		if t.ErrorCode == 0 && t.Topic != nil && *t.Topic == "__consumer_offsets" {
			internal = t.IsInternal
		}
	}
	admin.Close()

	consume := func(opts ...kgo.Opt) ([]string, time.Duration) {
		start := time.Now()
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(bootstrap), auth, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxPartitionBytes(200), kgo.FetchMaxBytes(2000)}, opts...)...)
		if err != nil {
			fail("client: %v", err)
		}
		defer cl.Close()
		var values []string
		for len(values) < want {
			fetches := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				fail("timed out with %d of %d records", len(values), want)
			}
			fetches.EachError(func(t string, p int32, err error) {
				fail("fetch error on %s/%d: %v", t, p, err)
			})
			fetches.EachRecord(func(r *kgo.Record) {
				if r.Topic != topic {
					fail("record from %s: a regex consumer must not read internal topics", r.Topic)
				}
				values = append(values, string(r.Value))
			})
		}
		return values, time.Since(start)
	}
	values, _ := consume(kgo.ConsumeTopics(topic))
	regexValues, regexTook := consume(kgo.ConsumeTopics("^("+topic+"|__consumer_offsets)$"), kgo.ConsumeRegex())
	out, _ := json.Marshal(map[string]any{"values": values, "regexValues": len(regexValues), "regexMs": regexTook.Milliseconds(), "internalListed": internal})
	fmt.Println(string(out))
}
