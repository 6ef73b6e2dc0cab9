// A long-running consumer group member for test/e2e/groups-kip848.test.ts: franz-go's kgo consumer
// with kgo.ServerSideBalancer (the KIP-848 consumer group protocol, which franz-go uses when the
// broker advertises ConsumerGroupHeartbeat v1; its default cooperative-sticky balancer names the
// server-side assignor), printing the JSON lines of GroupConsumer.java on stdout:
//
//	{"event":"ready"} / {"event":"assignment","partitions":[...]} /
//	{"event":"record","partition":p,"offset":o,"value":"..."} /
//	{"event":"committed","offsets":{"p":next}} / {"event":"commit-failed","error":"..."} / {"event":"closed"}
//
// Records are printed before the synchronous commit of their poll. "close" (or EOF) on stdin
// closes the client cleanly (it leaves the group).
//
// Usage: franz-group --bootstrap H:P --group G --topic T [--client-id ID]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

var mu sync.Mutex

func emit(v map[string]any) {
	b, _ := json.Marshal(v)
	mu.Lock()
	defer mu.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

func main() {
	bootstrap := flag.String("bootstrap", "", "")
	group := flag.String("group", "", "")
	topic := flag.String("topic", "", "")
	clientID := flag.String("client-id", "kop-franz-group", "")
	flag.Parse()

	var ownedMu sync.Mutex
	owned := map[int32]bool{}
	printAssignment := func() {
		ownedMu.Lock()
		list := make([]int, 0, len(owned))
		for p := range owned {
			list = append(list, int(p))
		}
		ownedMu.Unlock()
		sort.Ints(list)
		emit(map[string]any{"event": "assignment", "partitions": list})
	}
	update := func(m map[string][]int32, add bool) {
		ownedMu.Lock()
		for _, p := range m[*topic] {
			if add {
				owned[p] = true
			} else {
				delete(owned, p)
			}
		}
		ownedMu.Unlock()
		printAssignment()
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(*bootstrap),
		kgo.ClientID(*clientID),
		kgo.ConsumerGroup(*group),
		kgo.ServerSideBalancer(),
		kgo.ConsumeTopics(*topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { update(m, true) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { update(m, false) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { update(m, false) }),
	)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		s := bufio.NewScanner(os.Stdin)
		for s.Scan() {
			if strings.TrimSpace(s.Text()) == "close" {
				break
			}
		}
		cancel()
	}()
	emit(map[string]any{"event": "ready"})
	for ctx.Err() == nil {
		fetches := cl.PollRecords(ctx, 20)
		if ctx.Err() != nil {
			break
		}
		var recs []*kgo.Record
		fetches.EachRecord(func(r *kgo.Record) {
			emit(map[string]any{"event": "record", "partition": r.Partition, "offset": r.Offset, "value": string(r.Value)})
			recs = append(recs, r)
		})
		if len(recs) == 0 {
			continue
		}
		if err := cl.CommitRecords(ctx, recs...); err != nil {
			emit(map[string]any{"event": "commit-failed", "error": err.Error()})
			continue
		}
		next := map[string]int64{}
		for _, r := range recs {
			next[strconv.Itoa(int(r.Partition))] = r.Offset + 1
		}
		emit(map[string]any{"event": "committed", "offsets": next})
	}
	cl.Close()
	emit(map[string]any{"event": "closed"})
}
