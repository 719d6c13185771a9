package data

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/kiln-ml/kiln/tokenizer"
)

// TestFineFoods reads the shipped Amazon fine-food reviews and preprocesses
// them for binary classification, checking the class counts that
// reference/assets.md gives for modeldata's small_fine_foods.
func TestFineFoods(t *testing.T) {
	tok := bert(t)
	opts := Options{Rename: map[string]string{"review": "text", "score": "label"}, Columns: []string{"text", "label"}, Text: []string{"text"}, Required: []string{"label"}}
	s, err := ReadSplits(SplitFiles{Train: "../datasets/fine_foods_train.csv", Test: "../datasets/fine_foods_test.csv"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s.Train.Len() != 4000 || s.Test.Len() != 1000 || len(s.Train.Skipped) != 0 {
		t.Fatalf("train %d, test %d, %v", s.Train.Len(), s.Test.Len(), s.Train.Skipped)
	}
	labels, err := InferLabels(s.Train.Rows, "label", "")
	if err != nil || labels.Len() != 2 || labels.Name(0) != "great" || labels.Name(1) != "other" {
		t.Fatalf("labels %v %v", labels, err)
	}
	for _, c := range []struct {
		d            *Dataset
		great, other int
	}{{s.Train, 2600, 1400}, {s.Test, 658, 342}} {
		f, err := Preprocess(Config{Task: Classification, Tokenizer: tok, Labels: labels, MaxLength: 128}, c.d.Rows)
		if err != nil {
			t.Fatal(err)
		}
		n := [2]int{}
		for _, e := range f.Examples {
			n[e.Label]++
			if len(e.InputIDs) > 128 || e.InputIDs[0] != 101 || e.InputIDs[len(e.InputIDs)-1] != 102 {
				t.Fatalf("row %d: %d tokens", e.Line, len(e.InputIDs))
			}
		}
		if n[0] != c.great || n[1] != c.other {
			t.Errorf("%s: great %d other %d", c.d.Name, n[0], n[1])
		}
	}
}

// TestSyntheticSets preprocesses the generated NER, QA and multi-label sets.
func TestSyntheticSets(t *testing.T) {
	tok := bert(t)
	ner, err := ReadFile("../datasets/ner_train.jsonl", Options{})
	if err != nil {
		t.Fatal(err)
	}
	tags, _ := InferLabels(ner.Rows, "ner_tags", "")
	if got := tags.Names(); len(got) != 7 || got[0] != "B-LOC" || got[6] != "O" {
		t.Errorf("tags %v", got)
	}
	f, err := Preprocess(Config{Task: TokenClassification, Tokenizer: tok, Labels: tags}, ner.Rows)
	if err != nil || len(f.Examples) != 400 {
		t.Fatalf("%v", err)
	}
	// Every word gets exactly one labelled token.
	for i, e := range f.Examples {
		words := len(ner.Rows[i].Fields["tokens"].([]any))
		n := 0
		for _, l := range e.Labels {
			if l != IgnoreIndex {
				n++
			}
		}
		if n != words {
			t.Fatalf("line %d: %d labelled tokens for %d words", e.Line, n, words)
		}
	}

	for _, p := range []string{"../datasets/qa_train.json", "../datasets/qa_validation.json"} {
		qa, err := ReadSQuAD(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Preprocess(Config{Task: QuestionAnswering, Tokenizer: tok, MaxLength: 32, Stride: 8}, qa.Rows)
		if err != nil {
			t.Fatal(err)
		}
		// Each answerable question has a window whose positions recover the
		// answer text exactly; unanswerable ones point at CLS everywhere.
		found := map[string]bool{}
		for _, e := range f.Examples {
			if sp, ok := e.AnswerSpan(e.Start, e.End); ok {
				for _, r := range qa.Rows {
					if r.Fields["id"] == e.ID {
						a := r.Fields["answers"].(map[string]any)["text"].([]any)[0].(string)
						if got := string([]rune(r.Fields["context"].(string))[sp.Start:sp.End]); got != a {
							t.Errorf("%s: positions give %q, answer %q", e.ID, got, a)
						}
					}
				}
				found[e.ID] = true
			}
		}
		answerable := 0
		for _, r := range qa.Rows {
			if len(r.Fields["answers"].(map[string]any)["text"].([]any)) > 0 {
				answerable++
				if !found[r.Fields["id"].(string)] {
					t.Errorf("%s: no window holds the answer", r.Fields["id"])
				}
			} else if found[r.Fields["id"].(string)] {
				t.Errorf("%s: unanswerable but labelled", r.Fields["id"])
			}
		}
		if answerable*5 != len(qa.Rows)*4 {
			t.Errorf("%s: %d of %d answerable", p, answerable, len(qa.Rows))
		}
	}

	ml, err := ReadFile("../datasets/multilabel_train.jsonl", Options{Text: []string{"text"}})
	if err != nil {
		t.Fatal(err)
	}
	topics, _ := InferLabels(ml.Rows, "labels", "")
	f, err = Preprocess(Config{Task: MultiLabel, Tokenizer: tok, Labels: topics, LabelField: "labels"}, ml.Rows)
	if err != nil || topics.Len() != 5 || len(f.Examples) != 500 {
		t.Fatalf("multi-label: %d labels, %v", topics.Len(), err)
	}
}

// TestMobyDickLM packs the shipped Moby Dick paragraphs into causal-LM
// blocks with the real GPT-2 tokenizer and masked-LM blocks with BERT.
func TestMobyDickLM(t *testing.T) {
	gpt2, err := tokenizer.Load("../tokenizer/testdata/gpt2")
	if err != nil {
		t.Fatal(err)
	}
	d, err := ReadFile("../datasets/moby_dick.jsonl", Options{Text: []string{"text"}})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	var stream []int
	for _, r := range d.Rows {
		enc, _ := gpt2.Encode(r.Fields["text"].(string), tokenizer.Options{})
		total += enc.Len()
		stream = append(stream, enc.IDs...)
	}
	f, err := Preprocess(Config{Task: CausalLM, Tokenizer: gpt2, BlockSize: 128}, d.Rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Examples) != total/128 {
		t.Fatalf("%d blocks for %d tokens", len(f.Examples), total)
	}
	for i, e := range f.Examples {
		if !reflect.DeepEqual(e.InputIDs, stream[i*128:(i+1)*128]) {
			t.Fatalf("block %d is not the concatenated stream", i)
		}
	}
	m, err := Preprocess(Config{Task: MaskedLM, Tokenizer: bert(t), BlockSize: 128}, d.Rows)
	if err != nil || len(m.Examples) < 200 {
		t.Fatalf("mlm: %d blocks, %v", len(m.Examples), err)
	}
}

// readShipped reads one of the real-data JSONL files converted by
// tools/datagen, requiring non-empty text and the given fields, and checks
// the row count, that the file is valid UTF-8 and that no text is blank.
func readShipped(t *testing.T, name string, rows int, required ...string) *Dataset {
	t.Helper()
	path := "../datasets/" + name
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(raw) {
		t.Fatalf("%s is not valid UTF-8", path)
	}
	d, err := ReadFile(path, Options{Text: []string{"text"}, Required: required})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != rows {
		t.Fatalf("%s: %d rows, want %d", path, d.Len(), rows)
	}
	for _, r := range d.Rows {
		if text, _ := r.Str("text"); strings.TrimSpace(text) == "" || strings.ContainsRune(text, utf8.RuneError) {
			t.Fatalf("%s line %d: text %q", path, r.Line, text)
		}
	}
	return d
}

// TestStateOfTheUnion checks the State of the Union passages (5 from each
// of the 233 addresses, 1790-2021) and preprocesses them for regression on
// the year and classification by party.
func TestStateOfTheUnion(t *testing.T) {
	d := readShipped(t, "sotu_paragraphs.jsonl", 1165, "year", "party", "president")
	perSpeech := map[string]int{}
	years := map[int]bool{}
	for _, r := range d.Rows {
		year, err := r.Int("year")
		if err != nil || year < 1790 || year > 2021 {
			t.Fatalf("line %d: year %v %v", r.Line, r.Fields["year"], err)
		}
		president, _ := r.Str("president")
		perSpeech[fmt.Sprint(year, president)]++
		years[year] = true
	}
	// 1953 and 1961 each have two addresses (outgoing and incoming president).
	if len(perSpeech) != 233 || len(years) != 231 || !years[1790] || !years[2021] {
		t.Fatalf("%d addresses in %d years", len(perSpeech), len(years))
	}
	for k, n := range perSpeech {
		if n != 5 {
			t.Errorf("%s: %d passages", k, n)
		}
	}
	parties, err := InferLabels(d.Rows, "party", "")
	want := []string{"Democratic", "Democratic-Republican", "Federalist", "National Union", "Republican", "Whig", "Whig & Democratic", "none"}
	if err != nil || !reflect.DeepEqual(parties.Names(), want) {
		t.Fatalf("parties %v %v", parties.Names(), err)
	}
	tok := bert(t)
	f, err := Preprocess(Config{Task: Regression, Tokenizer: tok, LabelField: "year", MaxLength: 64}, d.Rows)
	if err != nil || len(f.Examples) != d.Len() {
		t.Fatalf("regression: %v", err)
	}
	for i, e := range f.Examples {
		if year, _ := d.Rows[i].Int("year"); len(e.Target) != 1 || e.Target[0] != float32(year) {
			t.Fatalf("line %d: target %v, year %d", e.Line, e.Target, year)
		}
	}
	f, err = Preprocess(Config{Task: Classification, Tokenizer: tok, Labels: parties, LabelField: "party", MaxLength: 64}, d.Rows)
	if err != nil || len(f.Examples) != d.Len() {
		t.Fatalf("classification: %v", err)
	}
}

// TestSpamAssassin checks the SpamAssassin sample (120 messages from each of
// five groups) and preprocesses it for binary classification.
func TestSpamAssassin(t *testing.T) {
	d := readShipped(t, "spam_assassin.jsonl", 600, "label", "group")
	groups := map[string]int{}
	for _, r := range d.Rows {
		label, _ := r.Str("label")
		group, _ := r.Str("group")
		if label != "spam" && label != "ham" || !strings.HasPrefix(group, label+"-") && !strings.HasPrefix(group, "easy-"+label+"-") && !strings.HasPrefix(group, "hard-"+label+"-") {
			t.Fatalf("line %d: label %q, group %q", r.Line, label, group)
		}
		groups[group]++
		text, _ := r.Str("text")
		for _, c := range text {
			if unicode.IsControl(c) && c != '\n' && c != '\t' {
				t.Fatalf("line %d: control character %U", r.Line, c)
			}
		}
		// Subject (when the message has one), blank line, body of at most
		// 650 characters.
		if n := utf8.RuneCountInString(text); n > 1000 || text != strings.TrimSpace(text) {
			t.Fatalf("line %d: %d characters, %q", r.Line, n, text)
		}
	}
	want := map[string]int{"easy-ham-1": 120, "easy-ham-2": 120, "hard-ham-1": 120, "spam-1": 120, "spam-2": 120}
	if !reflect.DeepEqual(groups, want) {
		t.Fatalf("groups %v", groups)
	}
	labels, err := InferLabels(d.Rows, "label", "")
	if err != nil || !reflect.DeepEqual(labels.Names(), []string{"ham", "spam"}) {
		t.Fatalf("labels %v %v", labels.Names(), err)
	}
	f, err := Preprocess(Config{Task: Classification, Tokenizer: bert(t), Labels: labels, MaxLength: 128}, d.Rows)
	if err != nil || len(f.Examples) != 600 {
		t.Fatalf("%v", err)
	}
	n := [2]int{}
	for _, e := range f.Examples {
		n[e.Label]++
	}
	if n != [2]int{360, 240} {
		t.Errorf("ham %d, spam %d", n[0], n[1])
	}
}

// TestAusten checks the Jane Austen paragraphs (Pride and Prejudice chapters
// 1-10, Emma chapters 1-5) and packs them into masked-LM blocks.
func TestAusten(t *testing.T) {
	d := readShipped(t, "austen.jsonl", 538, "book", "chapter")
	chapters := map[string]map[int]bool{}
	for _, r := range d.Rows {
		book, _ := r.Str("book")
		ch, err := r.Int("chapter")
		if err != nil || book != "Pride & Prejudice" && book != "Emma" {
			t.Fatalf("line %d: book %q chapter %v", r.Line, book, r.Fields["chapter"])
		}
		if chapters[book] == nil {
			chapters[book] = map[int]bool{}
		}
		chapters[book][ch] = true
	}
	if len(chapters["Pride & Prejudice"]) != 10 || !chapters["Pride & Prejudice"][10] || len(chapters["Emma"]) != 5 || !chapters["Emma"][5] {
		t.Fatalf("chapters %v", chapters)
	}
	if first, _ := d.Rows[0].Str("text"); !strings.HasPrefix(first, "It is a truth universally acknowledged, that a single man") {
		t.Errorf("first paragraph %q", first)
	}
	m, err := Preprocess(Config{Task: MaskedLM, Tokenizer: bert(t), BlockSize: 128}, d.Rows)
	if err != nil || len(m.Examples) < 250 {
		t.Fatalf("mlm: %d blocks, %v", len(m.Examples), err)
	}
}
