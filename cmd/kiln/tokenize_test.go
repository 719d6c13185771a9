package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const bertDir = "../../tokenizer/testdata/bert-base-uncased"

func TestTokenizeWritesIDsAndOffsets(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	out := filepath.Join(dir, "out.jsonl")
	rows := `{"text": "Fine-tuning BERT in Go isn't hard, Mr. Smith!"}

{"text": "Hello", "text_pair": "world"}
`
	if err := os.WriteFile(in, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runArgs("tokenize", "--tokenizer", bertDir, "--input", in, "--output", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d output rows, want 2:\n%s", len(lines), got)
	}
	// The golden ids of ../shared/reference/assets.md (Hugging Face's).
	want := `"input_ids":[101,2986,1011,17372,14324,1999,2175,3475,1005,1056,2524,1010,2720,1012,3044,999,102]`
	if !strings.Contains(lines[0], want) || !strings.Contains(lines[0], `"offsets":[[0,0],[0,4],[4,5]`) {
		t.Errorf("row 1: %s", lines[0])
	}
	if !strings.Contains(lines[1], `"token_type_ids":[0,0,0,1,1]`) {
		t.Errorf("row 2 (pair): %s", lines[1])
	}
}

func TestTokenizeBadRowsNameFileLineField(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ rows, want string }{
		{"{\"text\": \"ok\"}\n{\"txt\": \"typo\"}\n", `bad.jsonl:2: field "text" is missing`},
		{"{\"text\": 5}\n", `bad.jsonl:1: field "text" is 5, want a string`},
		{"{\"text\": \"a\"}\n{oops\n", "bad.jsonl:2: not a JSON object"},
		{"{\"text\": \"a\", \"text_pair\": null}\n", `bad.jsonl:1: field "text_pair" is null, want a string`},
		{"{\"text\": \"\xff\"}\n", "bad.jsonl:1: invalid UTF-8"},
	} {
		in := filepath.Join(dir, "bad.jsonl")
		if err := os.WriteFile(in, []byte(tc.rows), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errs := runArgs("tokenize", "--tokenizer", bertDir, "--input", in)
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("rows %q: exit %d, stderr %q; want 1 and %q", tc.rows, code, errs, tc.want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tokenize", "--input", "x"}, "--tokenizer is required"},
		{[]string{"tokenize", "--tokenizer", bertDir}, "--input is required"},
		{[]string{"tokenize", "--tokenizer", bertDir, "--input", "x", "--max-length", "8", "--truncation", "middle"}, "--truncation"},
	} {
		code, _, errs := runArgs(tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}
