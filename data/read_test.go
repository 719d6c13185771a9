package data

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readString reads all rows of src (named name) and returns them, the
// skipped rows and the first error.
func readString(t *testing.T, name, src string, opts Options) ([]Row, Skipped, error) {
	t.Helper()
	r, err := NewReader(strings.NewReader(src), name, opts)
	if err != nil {
		return nil, nil, err
	}
	var rows []Row
	for row, err := range r.All() {
		if err != nil {
			return rows, r.Skipped(), err
		}
		rows = append(rows, row)
	}
	return rows, r.Skipped(), nil
}

func TestReadFormats(t *testing.T) {
	cases := []struct {
		name, src string
	}{
		{"a.csv", "text,label\n\"hello, world\",pos\n\"two\nlines\",neg\n"},
		{"a.tsv", "text\tlabel\r\nhello, world\tpos\r\n\"two\tneg\n"},
		{"a.jsonl", "{\"text\":\"hello, world\",\"label\":\"pos\"}\n\n{\"text\":\"two\\nlines\",\"label\":\"neg\"}"},
		{"a.json", "[\n {\"text\":\"hello, world\",\"label\":\"pos\"},\n {\"text\":\"two\\nlines\",\n  \"label\":\"neg\"}\n]\n"},
	}
	wantLines := map[string][]int{"a.csv": {2, 3}, "a.tsv": {2, 3}, "a.jsonl": {1, 3}, "a.json": {2, 3}}
	for _, c := range cases {
		rows, _, err := readString(t, c.name, c.src, Options{Text: []string{"text"}, Required: []string{"label"}})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(rows) != 2 {
			t.Fatalf("%s: %d rows", c.name, len(rows))
		}
		second := "two\nlines"
		if c.name == "a.tsv" {
			second = `"two` // TSV has no quoting
		}
		if rows[0].Fields["text"] != "hello, world" || rows[1].Fields["text"] != second || rows[1].Fields["label"] != "neg" {
			t.Errorf("%s: rows %v", c.name, rows)
		}
		for i, l := range wantLines[c.name] {
			if rows[i].Line != l || rows[i].File != c.name {
				t.Errorf("%s row %d: at %s line %d, want line %d", c.name, i, rows[i].File, rows[i].Line, l)
			}
		}
	}
}

func TestRenameAndColumns(t *testing.T) {
	src := "sentence,score,extra\ngood,1,x\n"
	rows, _, err := readString(t, "g.csv", src, Options{Rename: map[string]string{"sentence": "text", "score": "label"}, Columns: []string{"text", "label"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows[0].Fields) != 2 || rows[0].Fields["text"] != "good" || rows[0].Fields["label"] != "1" {
		t.Errorf("fields %v", rows[0].Fields)
	}
	_, _, err = readString(t, "g.csv", src, Options{Columns: []string{"text"}})
	if want := `data: g.csv: column "text" not found; the header has "sentence", "score", "extra"`; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	_, _, err = readString(t, "g.jsonl", `{"sentence":"a"}`, Options{Columns: []string{"text"}})
	if want := `data: g.jsonl line 1, field "text": missing`; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// TestBadRows checks the exact message for each kind of bad row, and that
// SkipBad skips and reports exactly the bad rows.
func TestBadRows(t *testing.T) {
	opts := Options{Text: []string{"text"}, Required: []string{"label"}}
	cases := []struct {
		name, src, want string
		good            int // rows kept with SkipBad
	}{
		{"c.csv", "text,label\nok,pos\ntoo,many,fields\nok2,neg\n",
			`data: c.csv line 3: 3 fields, the header has 2`, 2},
		{"c.tsv", "text\tlabel\nok\tpos\nno label\nok2\tneg\n",
			`data: c.tsv line 3: 1 fields, the header has 2`, 2},
		{"c.csv", "text,label\nok,pos\n   ,neg\n",
			`data: c.csv line 3, field "text": empty text`, 1},
		{"c.csv", "text,label\nok,\n",
			`data: c.csv line 2, field "label": missing`, 0},
		{"c.csv", "text,label\nok,pos\nbad \xff byte,neg\n",
			`data: c.csv line 3, field "text" = "bad \xff byte": invalid UTF-8`, 1},
		{"c.csv", "text,label\nok,pos\nbare \"quote,neg\nok3,pos\n",
			`data: c.csv line 3: bare " in non-quoted-field`, 2},
		{"j.jsonl", "{\"text\":\"a\",\"label\":\"p\"}\n{\"text\": \"b\", label: 1}\n",
			`data: j.jsonl line 2: bad JSON at column 15: invalid character 'l' looking for beginning of object key string`, 1},
		{"j.jsonl", "{\"text\":\"a\",\"label\":\"p\"}\n[1,2]\n",
			`data: j.jsonl line 2: expected a JSON object, got a list`, 1},
		{"j.jsonl", "{\"text\":\"a\",\"label\":\"p\"}\n{\"label\":\"p\"}\n",
			`data: j.jsonl line 2, field "text": missing`, 1},
		{"j.jsonl", "{\"text\":3,\"label\":\"p\"}\n",
			`data: j.jsonl line 1, field "text" = 3: must be a string, got number`, 0},
		{"j.jsonl", "{\"text\":\"caf\xe9\",\"label\":\"p\"}\n",
			`data: j.jsonl line 1, field "text" = "\"caf\xe9\"": invalid UTF-8`, 0},
		{"j.json", "[{\"text\":\"a\",\"label\":\"p\"},\n{\"text\":\"\",\"label\":\"p\"}]",
			`data: j.json line 2, field "text": empty text`, 1},
	}
	for _, c := range cases {
		_, _, err := readString(t, c.name, c.src, opts)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s %q:\n got %v\nwant %s", c.name, c.src, err, c.want)
		}
		var re *RowError
		if !errors.As(err, &re) {
			t.Errorf("%T is not a *RowError", err)
		}
		skip := opts
		skip.SkipBad = true
		rows, skipped, err := readString(t, c.name, c.src, skip)
		if err != nil || len(rows) != c.good || len(skipped) != 1 || skipped[0].Error() != c.want {
			t.Errorf("%s SkipBad: %d rows, skipped %v, err %v", c.name, len(rows), skipped, err)
		}
	}
}

func TestJSONArrayFatal(t *testing.T) {
	src := "[\n{\"text\":\"a\",\"label\":\"p\"},\n{\"text\": oops}\n]"
	rows, _, err := readString(t, "x.json", src, Options{SkipBad: true})
	want := `data: x.json line 3: bad JSON: invalid character 'o' looking for beginning of value`
	if len(rows) != 1 || err == nil || err.Error() != want {
		t.Errorf("rows %d, err %v\nwant %s", len(rows), err, want)
	}
	_, _, err = readString(t, "x.json", "{\"data\": []}", Options{})
	if err == nil || !strings.Contains(err.Error(), "expected a JSON array of objects") {
		t.Errorf("got %v", err)
	}
}

func TestSkippedSummary(t *testing.T) {
	src := "text,label\na,p\n,p\nb,p\nc\n"
	r, err := NewReader(strings.NewReader(src), "s.csv", Options{Text: []string{"text"}, SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	d, err := ReadAll(r, "s.csv")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Skipped.String(), "skipped 2 bad rows (lines 3, 5)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if d.Len() != 2 {
		t.Errorf("%d rows", d.Len())
	}
}

// TestStreamingLarge reads a file far larger than the reader's buffers row by
// row and checks that line numbers stay exact for JSON arrays.
func TestStreamingLarge(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("[\n")
	const n = 20000
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(`{"text": "row number ` + strings.Repeat("x", i%50) + `", "label": "a"}`)
	}
	b.WriteString("\n]\n")
	path := filepath.Join(dir, "big.json")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	count := 0
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if row.Line != count+2 {
			t.Fatalf("row %d at line %d", count, row.Line)
		}
		count++
	}
	if count != n {
		t.Errorf("%d rows", count)
	}
}

func TestSplit(t *testing.T) {
	d := &Dataset{Name: "d"}
	for i := range 100 {
		d.Rows = append(d.Rows, Row{Line: i + 2})
	}
	s, err := d.Split(0.1, 0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if s.Train.Len() != 70 || s.Validation.Len() != 10 || s.Test.Len() != 20 {
		t.Fatalf("sizes %d %d %d", s.Train.Len(), s.Validation.Len(), s.Test.Len())
	}
	seen := map[int]bool{}
	for _, p := range []*Dataset{s.Train, s.Validation, s.Test} {
		for i, r := range p.Rows {
			if seen[r.Line] || i > 0 && p.Rows[i-1].Line > r.Line {
				t.Fatalf("duplicate or unordered line %d", r.Line)
			}
			seen[r.Line] = true
		}
	}
	s2, _ := d.Split(0.1, 0.2, 7)
	s3, _ := d.Split(0.1, 0.2, 8)
	if s2.Validation.Rows[0].Line != s.Validation.Rows[0].Line {
		t.Error("same seed, different split")
	}
	// A golden value pins the split across machines and Go releases.
	var val []int
	for _, r := range s.Validation.Rows {
		val = append(val, r.Line)
	}
	if fmt.Sprint(val) != "[2 9 17 25 29 45 50 52 64 101]" || s3.Validation.Rows[0].Line != 8 {
		t.Errorf("validation lines %v (seed 8 first: %d)", val, s3.Validation.Rows[0].Line)
	}
}

func TestCSVComma(t *testing.T) {
	rows, _, err := readString(t, "semi.csv", "text;label\n\"a;b\";x\n", Options{Comma: ';'})
	if err != nil || rows[0].Fields["text"] != "a;b" || rows[0].Fields["label"] != "x" {
		t.Errorf("%v %v", rows, err)
	}
}
