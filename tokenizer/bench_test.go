package tokenizer

import (
	"fmt"
	"github.com/kiln-ml/kiln/internal/parallel"
	"testing"
)

// benchLines is the benchmark text: every text of testdata/corpus.jsonl,
// repeated 50 times (about 430 KB). tools/tokref/bench.js builds the same list
// for HF's Rust tokenizers, so the MB/s figures are comparable.
func benchLines(b *testing.B) ([]string, int64) {
	var lines []string
	var n int64
	for range 50 {
		for _, r := range readCorpus(b) {
			for _, s := range []*string{&r.Text, r.Pair} {
				if s != nil && *s != "" {
					lines = append(lines, *s)
					n += int64(len(*s))
				}
			}
		}
	}
	return lines, n
}

// BenchmarkEncode reports MB/s for BERT and GPT-2 on one goroutine ("loop":
// Encode per text) and on kiln's worker pool ("batch": EncodeBatch, with as
// many threads as the pool has, i.e. GOMAXPROCS when the pool first starts).
func BenchmarkEncode(b *testing.B) {
	lines, size := benchLines(b)
	bert := loadBERT(b)
	gpt2, err := Load("testdata/gpt2")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		tok  *Tokenizer
	}{{"bert", bert}, {"gpt2", gpt2}} {
		b.Run(c.name+"/loop", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				for _, s := range lines {
					if _, err := c.tok.Encode(s, Options{}); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(fmt.Sprintf("%s/batch-threads=%d", c.name, parallel.Workers()), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if _, err := c.tok.EncodeBatch(lines, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
