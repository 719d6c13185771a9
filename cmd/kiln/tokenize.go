package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/kiln-ml/kiln/tokenizer"
)

// runTokenize handles `kiln tokenize --tokenizer DIR --input FILE.jsonl`:
// each input row {"text": ..., "text_pair": ...} becomes one output row with
// input_ids, token_type_ids, attention_mask and offsets (character offsets,
// HF's unit), for debugging and for checking parity with Hugging Face.
func runTokenize(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kiln tokenize", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("tokenizer", "", "tokenizer `DIR` (tokenizer.json, vocab.txt, or vocab.json + merges.txt)")
	input := fs.String("input", "", "input `FILE.jsonl`: rows with \"text\" and optional \"text_pair\"")
	output := fs.String("output", "", "output `FILE.jsonl` (default: standard output)")
	maxLen := fs.Int("max-length", 0, "truncate to `N` tokens, special tokens included (0: no truncation)")
	trunc := fs.String("truncation", "longest_first", "truncation strategy: longest_first, only_first or only_second")
	noSpecial := fs.Bool("no-special-tokens", false, "do not add [CLS]/[SEP] or other special tokens")
	if help, err := parseFlags(fs, args, "usage: kiln tokenize --tokenizer DIR --input FILE.jsonl [--output FILE.jsonl] [--max-length N] [--truncation S] [--no-special-tokens]", stdout); help || err != nil {
		return err
	}
	switch {
	case *dir == "":
		return usagef("flag --tokenizer is required: a directory with tokenizer.json, vocab.txt, or vocab.json + merges.txt")
	case *input == "":
		return usagef("flag --input is required: a JSONL file of {\"text\": ..., \"text_pair\": ...} rows")
	case *maxLen < 0:
		return usagef("flag --max-length: %d is negative", *maxLen)
	}
	opts := tokenizer.Options{NoSpecialTokens: *noSpecial}
	if *maxLen > 0 {
		opts.MaxLength = *maxLen
		switch *trunc {
		case "longest_first":
			opts.Truncation = tokenizer.LongestFirst
		case "only_first":
			opts.Truncation = tokenizer.OnlyFirst
		case "only_second":
			opts.Truncation = tokenizer.OnlySecond
		default:
			return usagef("flag --truncation: %q is not longest_first, only_first or only_second", *trunc)
		}
	}
	tok, err := tokenizer.Load(*dir)
	if err != nil {
		return fmt.Errorf("flag --tokenizer: %w", err)
	}
	in, err := os.Open(*input)
	if err != nil {
		return fmt.Errorf("flag --input: %w", err)
	}
	defer in.Close()
	out := stdout
	var outFile *os.File
	if *output != "" {
		if outFile, err = os.Create(*output); err != nil {
			return fmt.Errorf("flag --output: %w", err)
		}
		out = outFile
	}
	w := bufio.NewWriter(out)
	n, err := tokenizeRows(tok, opts, *input, in, w)
	if ferr := w.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("writing output: %w", ferr)
	}
	if outFile != nil {
		if cerr := outFile.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("writing %s: %w", *output, cerr)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "kiln tokenize: %d rows\n", n)
	return nil
}

// tokenRow is one output line.
type tokenRow struct {
	InputIDs      []int    `json:"input_ids"`
	TokenTypeIDs  []int    `json:"token_type_ids"`
	AttentionMask []int    `json:"attention_mask"`
	Offsets       [][2]int `json:"offsets"`
}

// tokenizeRows encodes every row of in (named name in errors) and writes one
// JSON line per row. Blank lines are skipped; anything else that is not a
// row with a string "text" is an error naming the file, line and field.
func tokenizeRows(tok *tokenizer.Tokenizer, opts tokenizer.Options, name string, in io.Reader, w io.Writer) (int, error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	enc := json.NewEncoder(w)
	line, rows := 0, 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		if !utf8.Valid(raw) {
			return rows, fmt.Errorf("%s:%d: invalid UTF-8", name, line)
		}
		var row map[string]json.RawMessage
		if err := json.Unmarshal(raw, &row); err != nil {
			return rows, fmt.Errorf("%s:%d: not a JSON object: %v", name, line, err)
		}
		text, err := stringField(row, "text", true)
		if err != nil {
			return rows, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		pair, err := stringField(row, "text_pair", false)
		if err != nil {
			return rows, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		var e *tokenizer.Encoding
		if _, hasPair := row["text_pair"]; hasPair {
			e, err = tok.EncodePair(text, pair, opts)
		} else {
			e, err = tok.Encode(text, opts)
		}
		if err != nil {
			return rows, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		r := tokenRow{InputIDs: e.IDs, TokenTypeIDs: e.TypeIDs, AttentionMask: e.AttentionMask, Offsets: make([][2]int, len(e.Offsets))}
		for i, o := range e.Offsets {
			r.Offsets[i] = [2]int{o.Start, o.End}
		}
		if err := enc.Encode(r); err != nil {
			return rows, fmt.Errorf("writing output: %w", err)
		}
		rows++
	}
	if err := sc.Err(); err != nil {
		return rows, fmt.Errorf("%s:%d: %v", name, line+1, err)
	}
	return rows, nil
}

// stringField returns row[key] as a string; a missing required field, or a
// field that is not a string, is an error naming the field.
func stringField(row map[string]json.RawMessage, key string, required bool) (string, error) {
	raw, ok := row[key]
	if !ok {
		if required {
			return "", fmt.Errorf("field %q is missing", key)
		}
		return "", nil
	}
	var s string
	// json.Unmarshal leaves s alone for null, so null is checked by hand.
	if err := json.Unmarshal(raw, &s); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return "", fmt.Errorf("field %q is %s, want a string", key, bytes.TrimSpace(raw))
	}
	return s, nil
}
