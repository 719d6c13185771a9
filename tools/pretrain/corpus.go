package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kiln-ml/kiln/data"
)

// lmSources are the public-domain LM corpora shipped in datasets (see
// its NOTICE.md).
var lmSources = []string{
	"datasets/moby_dick.jsonl",
	"datasets/austen.jsonl",
	"datasets/sotu_paragraphs.jsonl",
}

// paragraphEnd ends every text: GPT-2 sees paragraph breaks as "ĊĊ" (the
// trimmed BPE keeps that merge, see tools/trimvocab); BERT's normalizer
// turns it into white space, which its pre-tokenizer drops.
const paragraphEnd = "\n\n"

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// corpusRow is one line of train.jsonl / validation.jsonl.
type corpusRow struct {
	Text   string `json:"text"`
	Source string `json:"source"`
}

// splitStats counts what went into one split.
type splitStats struct{ rows, chars, words int }

func (s *splitStats) add(text string) {
	s.rows++
	s.chars += len([]rune(text))
	s.words += len(strings.Fields(text))
}

func runCorpus(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pretrain corpus", flag.ContinueOnError)
	out := fs.String("out", "", "output `DIR` for train.jsonl and validation.jsonl")
	var inputs listFlag
	fs.Var(&inputs, "input", "corpus file `PATH[:FIELD]` (field default \"text\"; repeatable; default the three LM corpora)")
	val := fs.Float64("validation", 0.02, "fraction of each source's paragraphs held out for validation")
	seed := fs.Uint64("seed", 42, "seed of the split")
	holdout := fs.Bool("lrgrid-holdout", false, "leave out of "+gridFile+" the reviews lrgrid scores on, so that pretraining never reads them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("corpus: unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return fmt.Errorf("corpus: flag -out is required")
	}
	if len(inputs) == 0 {
		inputs = lmSources
	}
	var err error
	var skip map[string]bool
	if *holdout {
		if !slices.ContainsFunc(inputs, func(in string) bool { return strings.HasPrefix(filepath.Base(in), gridFile) }) {
			return fmt.Errorf("corpus: flag -lrgrid-holdout: no -input is %s", gridFile)
		}
		if skip, err = gridHeldTexts(); err != nil {
			return err
		}
	}
	train, valid, err := buildCorpus(inputs, *val, *seed, skip)
	if err != nil {
		return err
	}
	var stats [2]splitStats
	for i, part := range [][]corpusRow{train, valid} {
		name := []string{"train.jsonl", "validation.jsonl"}[i]
		for _, r := range part {
			stats[i].add(r.Text)
		}
		if err := writeJSONL(filepath.Join(*out, name), part); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d paragraphs, %d words, %d characters\n", filepath.Join(*out, name), stats[i].rows, stats[i].words, stats[i].chars)
	}
	return nil
}

// buildCorpus reads each source and splits its paragraphs at random (a pure
// function of seed and the paragraph count) into train and validation, each
// keeping file order; the sources follow one another in the order given.
// Texts in skip (when a source is lrgrid's training file) are left out
// before the split.
func buildCorpus(inputs []string, validation float64, seed uint64, skip map[string]bool) (train, valid []corpusRow, err error) {
	for _, in := range inputs {
		path, field := in, "text"
		if i := strings.LastIndex(in, ":"); i > 0 && !strings.ContainsAny(in[i+1:], `/\.`) {
			path, field = in[:i], in[i+1:]
		}
		d, err := data.ReadFile(path, data.Options{})
		if err != nil {
			return nil, nil, err
		}
		var rows []data.Row
		for _, r := range d.Rows {
			t, err := r.Str(field)
			if err != nil {
				return nil, nil, err
			}
			if skip[t] && filepath.Base(path) == gridFile {
				continue
			}
			if strings.TrimSpace(t) != "" {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			return nil, nil, fmt.Errorf("%s: no text in field %q", path, field)
		}
		sp, err := (&data.Dataset{Name: path, Rows: rows}).Split(validation, 0, seed)
		if err != nil {
			return nil, nil, err
		}
		src := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		conv := func(ds *data.Dataset) []corpusRow {
			if ds == nil {
				return nil
			}
			out := make([]corpusRow, 0, len(ds.Rows))
			for _, r := range ds.Rows {
				t, _ := r.Str(field)
				out = append(out, corpusRow{Text: strings.TrimSpace(t) + paragraphEnd, Source: src})
			}
			return out
		}
		train = append(train, conv(sp.Train)...)
		valid = append(valid, conv(sp.Validation)...)
	}
	return train, valid, nil
}

// writeJSONL writes rows as JSON lines (no HTML escaping), creating the
// directory.
func writeJSONL(path string, rows []corpusRow) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
