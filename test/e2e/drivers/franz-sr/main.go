// franz-go's pkg/sr client against the gateway's schema registry
// (test/e2e/schema-registry-clients.test.ts).
//
// Usage: franz-sr URL USER PASSWORD SUBJECT
// Registers an Avro schema, reads it back by id and by version, evolves it,
// tries an incompatible change and prints one JSON object with the results.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/sr"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: franz-sr URL USER PASSWORD SUBJECT")
		os.Exit(2)
	}
	url, user, pass, subject := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	cl, err := sr.NewClient(sr.URLs(url), sr.BasicAuth(user, pass))
	must(err)
	ctx := context.Background()
	out := map[string]any{}

	v1 := `{"type":"record","name":"Event","fields":[{"name":"id","type":"string"}]}`
	v2 := `{"type":"record","name":"Event","fields":[{"name":"id","type":"string"},{"name":"n","type":"int","default":0}]}`
	bad := `{"type":"record","name":"Event","fields":[{"name":"id","type":"int"}]}`

	s1, err := cl.CreateSchema(ctx, subject, sr.Schema{Schema: v1, Type: sr.TypeAvro})
	must(err)
	out["v1"] = map[string]any{"id": s1.ID, "version": s1.Version}
	byID, err := cl.SchemaByID(ctx, s1.ID)
	must(err)
	out["byId"] = byID.Schema
	s2, err := cl.CreateSchema(ctx, subject, sr.Schema{Schema: v2, Type: sr.TypeAvro})
	must(err)
	out["v2"] = map[string]any{"id": s2.ID, "version": s2.Version}
	latest, err := cl.SchemaByVersion(ctx, subject, -1)
	must(err)
	out["latest"] = map[string]any{"id": latest.ID, "version": latest.Version, "schema": latest.Schema.Schema}
	subjects, err := cl.Subjects(ctx)
	must(err)
	out["subjects"] = subjects
	_, err = cl.CreateSchema(ctx, subject, sr.Schema{Schema: bad, Type: sr.TypeAvro})
	var re *sr.ResponseError
	if errors.As(err, &re) {
		out["incompatible"] = map[string]any{"code": re.ErrorCode, "message": re.Message}
	} else {
		out["incompatible"] = fmt.Sprint(err)
	}
	compat, err := cl.CheckCompatibility(ctx, subject, -1, sr.Schema{Schema: bad, Type: sr.TypeAvro})
	must(err)
	out["compatible"] = compat.Is
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
