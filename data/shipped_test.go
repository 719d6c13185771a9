package data

import (
	"reflect"
	"testing"

	"github.com/kiln-ml/kiln/tokenizer"
)

// TestFineFoods reads the shipped Amazon fine-food reviews and preprocesses
// them for binary classification, checking the class counts that
// reference/assets.md gives for modeldata's small_fine_foods.
func TestFineFoods(t *testing.T) {
	tok := bert(t)
	opts := Options{Rename: map[string]string{"review": "text", "score": "label"}, Columns: []string{"text", "label"}, Text: []string{"text"}, Required: []string{"label"}}
	s, err := ReadSplits(SplitFiles{Train: "testdata/fine_foods_train.csv", Test: "testdata/fine_foods_test.csv"}, opts)
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
	ner, err := ReadFile("testdata/ner_train.jsonl", Options{})
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

	for _, p := range []string{"testdata/qa_train.json", "testdata/qa_validation.json"} {
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

	ml, err := ReadFile("testdata/multilabel_train.jsonl", Options{Text: []string{"text"}})
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
	d, err := ReadFile("testdata/moby_dick.jsonl", Options{Text: []string{"text"}})
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
