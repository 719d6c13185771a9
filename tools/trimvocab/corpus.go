package main

import (
	"fmt"
	"strings"

	"github.com/kiln-ml/kiln/data"
)

// source is one input of the corpus: a CSV/TSV/JSONL/JSON file and the field
// holding its text.
type source struct{ path, field string }

// parseSource reads "PATH" or "PATH:FIELD" (default field "text").
func parseSource(s string) source {
	if i := strings.LastIndex(s, ":"); i > 0 && !strings.ContainsAny(s[i+1:], `/\.`) {
		return source{s[:i], s[i+1:]}
	}
	return source{s, "text"}
}

func (s source) String() string { return s.path + ":" + s.field }

// lmSources are the public-domain LM corpora kiln pretrains on.
var lmSources = []string{
	"datasets/moby_dick.jsonl",
	"datasets/austen.jsonl",
	"datasets/sotu_paragraphs.jsonl",
}

// bertSources is the corpus the WordPiece vocabulary is trimmed to: the LM
// corpora and the review text of the fine-food training split, the first
// fine-tuning target (the test split is left out).
var bertSources = append(append([]string(nil), lmSources...), "datasets/fine_foods_train.csv:review")

// gpt2Sources is the corpus the BPE is trimmed to: the LM corpora only,
// which keeps the GPT-2 model within its size budget. Byte-level BPE has no
// unknown token, so other text still encodes, in shorter pieces.
var gpt2Sources = lmSources

// readTexts returns the non-empty texts of every source, in file order.
func readTexts(srcs []source) ([]string, error) {
	var texts []string
	for _, s := range srcs {
		d, err := data.ReadFile(s.path, data.Options{})
		if err != nil {
			return nil, err
		}
		n := 0
		for _, r := range d.Rows {
			if !r.Has(s.field) {
				return nil, fmt.Errorf("%s line %d: no field %q", s.path, r.Line, s.field)
			}
			t, err := r.Str(s.field)
			if err != nil {
				return nil, err
			}
			if strings.TrimSpace(t) != "" {
				texts = append(texts, t)
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no text in field %q", s.path, s.field)
		}
	}
	return texts, nil
}
