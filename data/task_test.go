package data

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-ml/kiln/tokenizer"
)

var (
	bertOnce sync.Once
	bertTok  *tokenizer.Tokenizer
	bertErr  error
)

// bert returns the real bert-base-uncased tokenizer from the tokenizer
// package's testdata.
func bert(t *testing.T) *tokenizer.Tokenizer {
	t.Helper()
	bertOnce.Do(func() { bertTok, bertErr = tokenizer.Load("../tokenizer/testdata/bert-base-uncased") })
	if bertErr != nil {
		t.Fatal(bertErr)
	}
	return bertTok
}

func row(line int, kv ...any) Row {
	r := Row{File: "t.jsonl", Line: line, Fields: map[string]any{}}
	for i := 0; i < len(kv); i += 2 {
		r.Fields[kv[i].(string)] = kv[i+1]
	}
	return r
}

func list(v ...any) []any { return v }

func TestClassification(t *testing.T) {
	tok := bert(t)
	rows := []Row{
		row(1, "text", "Fine-tuning BERT in Go isn't hard, Mr. Smith!", "label", "pos"),
		row(2, "text", "meh", "label", "neg"),
	}
	labels, err := InferLabels(rows, "label", "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Preprocess(Config{Task: Classification, Tokenizer: tok, Labels: labels}, rows)
	if err != nil {
		t.Fatal(err)
	}
	// The golden ids from reference/assets.md (Hugging Face bert-base-uncased).
	want := []int{101, 2986, 1011, 17372, 14324, 1999, 2175, 3475, 1005, 1056, 2524, 1010, 2720, 1012, 3044, 999, 102}
	if e := f.Examples[0]; !reflect.DeepEqual(e.InputIDs, want) || e.Label != 1 || e.Line != 1 {
		t.Errorf("example 0: %v label %d line %d", e.InputIDs, e.Label, e.Line)
	}
	if f.Examples[1].Label != 0 {
		t.Errorf("neg has id %d", f.Examples[1].Label)
	}
	if got := labels.ID2Label(); !reflect.DeepEqual(got, map[string]string{"0": "neg", "1": "pos"}) {
		t.Errorf("id2label %v", got)
	}
	if got := labels.Label2ID(); !reflect.DeepEqual(got, map[string]int{"neg": 0, "pos": 1}) {
		t.Errorf("label2id %v", got)
	}
	back, err := LabelSetFromConfig(labels.ID2Label())
	if err != nil || !reflect.DeepEqual(back.Names(), labels.Names()) {
		t.Errorf("round trip %v %v", back, err)
	}

	// Pairs: token type ids 0 then 1, truncation to MaxLength.
	pr := []Row{row(1, "text", "a cat", "pair", "a dog sat", "label", "pos")}
	f, err = Preprocess(Config{Task: Classification, Tokenizer: tok, Labels: labels, PairField: "pair"}, pr)
	if err != nil {
		t.Fatal(err)
	}
	e := f.Examples[0]
	if !reflect.DeepEqual(e.InputIDs, []int{101, 1037, 4937, 102, 1037, 3899, 2938, 102}) || !reflect.DeepEqual(e.TokenTypeIDs, []int{0, 0, 0, 0, 1, 1, 1, 1}) {
		t.Errorf("pair %v %v", e.InputIDs, e.TokenTypeIDs)
	}
	f, _ = Preprocess(Config{Task: Classification, Tokenizer: tok, Labels: labels, MaxLength: 6}, rows[:1])
	if got := f.Examples[0].InputIDs; !reflect.DeepEqual(got, []int{101, 2986, 1011, 17372, 14324, 102}) {
		t.Errorf("truncated %v", got)
	}

	// A label outside the set, a missing label, a missing text.
	bad := []Row{
		row(1, "text", "ok", "label", "pos"),
		row(2, "text", "hmm", "label", "maybe"),
		row(3, "text", "ok"),
		row(4, "label", "neg"),
		row(5, "text", " \t", "label", "neg"),
	}
	wants := []string{
		``,
		`data: t.jsonl line 2, field "label" = "maybe": not in the label set ["neg" "pos"]`,
		`data: t.jsonl line 3, field "label": missing`,
		`data: t.jsonl line 4, field "text": missing`,
		`data: t.jsonl line 5, field "text": empty text`,
	}
	for i := 1; i < len(bad); i++ {
		_, err := Preprocess(Config{Task: Classification, Tokenizer: tok, Labels: labels}, bad[i:i+1])
		if err == nil || err.Error() != wants[i] {
			t.Errorf("row %d: got %v\nwant %s", i, err, wants[i])
		}
	}
	f, err = Preprocess(Config{Task: Classification, Tokenizer: tok, Labels: labels, SkipBad: true}, bad)
	if err != nil || len(f.Examples) != 1 || f.Skipped.String() != "skipped 4 bad rows (lines 2, 3, 4, 5)" {
		t.Errorf("SkipBad: %d examples, %v, %v", len(f.Examples), f.Skipped, err)
	}
}

func TestInferLabelsNumeric(t *testing.T) {
	rows := []Row{row(1, "label", 10.0), row(2, "label", "2"), row(3, "label", 1.0)}
	l, err := InferLabels(rows, "label", "")
	if err != nil || !reflect.DeepEqual(l.Names(), []string{"1", "2", "10"}) {
		t.Errorf("%v %v", l.Names(), err)
	}
}

func TestRegressionAndMultiLabel(t *testing.T) {
	tok := bert(t)
	f, err := Preprocess(Config{Task: Regression, Tokenizer: tok}, []Row{row(1, "text", "a", "label", "3.25"), row(2, "text", "b", "label", -1.5)})
	if err != nil || f.Examples[0].Target[0] != 3.25 || f.Examples[1].Target[0] != -1.5 {
		t.Fatalf("regression %v %v", f, err)
	}
	_, err = Preprocess(Config{Task: Regression, Tokenizer: tok}, []Row{row(7, "text", "a", "label", "high")})
	if want := `data: t.jsonl line 7, field "label" = "high": not a number`; err == nil || err.Error() != want {
		t.Errorf("got %v", err)
	}

	rows := []Row{
		row(1, "text", "tax and war", "labels", list("economy", "defense")),
		row(2, "text", "nothing", "labels", list()),
		row(3, "text", "csv cell", "labels", "health; economy"),
	}
	l, err := InferLabels(rows, "labels", ";")
	if err != nil || !reflect.DeepEqual(l.Names(), []string{"defense", "economy", "health"}) {
		t.Fatalf("labels %v %v", l.Names(), err)
	}
	f, err = Preprocess(Config{Task: MultiLabel, Tokenizer: tok, Labels: l, LabelField: "labels"}, rows)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{1, 1, 0}, {0, 0, 0}, {0, 1, 1}}
	for i, e := range f.Examples {
		if !reflect.DeepEqual(e.Target, want[i]) {
			t.Errorf("row %d: %v", i, e.Target)
		}
	}
	_, err = Preprocess(Config{Task: MultiLabel, Tokenizer: tok, Labels: l, LabelField: "labels"}, []Row{row(4, "text", "x", "labels", list("sports"))})
	if want := `data: t.jsonl line 4, field "labels" = "sports": not in the label set ["defense" "economy" "health"]`; err == nil || err.Error() != want {
		t.Errorf("got %v", err)
	}
	b, err := Collator{Task: MultiLabel}.Collate([]*Example{&f.Examples[0], &f.Examples[2]})
	if err != nil || !reflect.DeepEqual(b.FloatLabelShape, []int{2, 3}) || !reflect.DeepEqual(b.FloatLabels, []float32{1, 1, 0, 0, 1, 1}) {
		t.Errorf("collated %v %v %v", b.FloatLabelShape, b.FloatLabels, err)
	}
}

func TestTokenClassification(t *testing.T) {
	tok := bert(t)
	rows := []Row{row(1,
		"tokens", list("Ada", "Kilnsworth", "visited", "Saskatoon", "."),
		"ner_tags", list("B-PER", "I-PER", "O", "B-LOC", "O"))}
	l, _ := NewLabelSet("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
	f, err := Preprocess(Config{Task: TokenClassification, Tokenizer: tok, Labels: l}, rows)
	if err != nil {
		t.Fatal(err)
	}
	e := f.Examples[0]
	// [CLS] ada ki ##ln ##sworth visited saskatoon . [SEP]
	enc, _ := tok.Encode("Ada Kilnsworth visited Saskatoon .", tokenizer.Options{})
	if !reflect.DeepEqual(e.InputIDs, enc.IDs) {
		t.Fatalf("ids %v, tokens %v", e.InputIDs, enc.Tokens)
	}
	if got := strings.Join(enc.Tokens, " "); got != "[CLS] ada ki ##ln ##sworth visited saskatoon . [SEP]" {
		t.Fatalf("tokens %s", got)
	}
	if want := []int{-100, 1, 2, -100, -100, 0, 3, 0, -100}; !reflect.DeepEqual(e.Labels, want) {
		t.Errorf("labels %v, want %v", e.Labels, want)
	}
	// label_all_tokens: continuation pieces get the word's tag, B- as I-.
	rows[0].Fields["ner_tags"] = list("O", "B-PER", "O", "B-LOC", "O")
	f, _ = Preprocess(Config{Task: TokenClassification, Tokenizer: tok, Labels: l, LabelAllTokens: true}, rows)
	if want := []int{-100, 0, 1, 2, 2, 0, 3, 0, -100}; !reflect.DeepEqual(f.Examples[0].Labels, want) {
		t.Errorf("label_all_tokens %v, want %v", f.Examples[0].Labels, want)
	}
	// Errors.
	bad := []struct {
		r    Row
		want string
	}{
		{row(3, "tokens", list("a", "b"), "ner_tags", list("O")), `data: t.jsonl line 3, field "ner_tags": has 1 tags for 2 words`},
		{row(4, "tokens", list("a"), "ner_tags", list("B-ORG")), `data: t.jsonl line 4, field "ner_tags[0]" = "B-ORG": not in the label set ["O" "B-PER" "I-PER" "B-LOC" "I-LOC"]`},
		{row(5, "tokens", list(), "ner_tags", list()), `data: t.jsonl line 5, field "tokens": empty text`},
		{row(6, "tokens", "a b", "ner_tags", list("O")), `data: t.jsonl line 6, field "tokens" = "a b": must be a list of words`},
	}
	for _, c := range bad {
		_, err := Preprocess(Config{Task: TokenClassification, Tokenizer: tok, Labels: l}, []Row{c.r})
		if err == nil || err.Error() != c.want {
			t.Errorf("got %v\nwant %s", err, c.want)
		}
	}
	// Collation pads labels with -100.
	short := Example{InputIDs: []int{101, 7, 102}, Labels: []int{-100, 4, -100}}
	b, err := Collator{Task: TokenClassification}.Collate([]*Example{&e, &short})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.Labels[9:], []int64{-100, 4, -100, -100, -100, -100, -100, -100, -100}) || !reflect.DeepEqual(b.AttentionMask[9:], []int64{1, 1, 1, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("padded row %v %v", b.Labels[9:], b.AttentionMask[9:])
	}
}

const qaContext = "The capital of Saskatchewan is Regina. Saskatoon is its largest city, on the South Saskatchewan River."

func TestQuestionAnswering(t *testing.T) {
	tok := bert(t)
	rows := []Row{
		row(3, "id", "q1", "question", "  What is the largest city?", "context", qaContext,
			"answers", map[string]any{"text": list("Saskatoon"), "answer_start": list(39.0)}),
		row(9, "id", "q2", "question", "What river?", "context", qaContext,
			"answers", list(map[string]any{"text": "South Saskatchewan River", "answer_start": 77.0})),
		row(12, "id", "q3", "question", "Who?", "context", qaContext,
			"answers", map[string]any{"text": list(), "answer_start": list()}),
	}
	f, err := Preprocess(Config{Task: QuestionAnswering, Tokenizer: tok, MaxLength: 20, Stride: 4}, rows)
	if err != nil {
		t.Fatal(err)
	}
	type pos struct {
		id         string
		start, end int
		text       string
	}
	var got []pos
	for _, e := range f.Examples {
		p := pos{id: e.ID, start: e.Start, end: e.End}
		if sp, ok := e.AnswerSpan(e.Start, e.End); ok {
			// The positions must cover exactly the answer's characters.
			p.text = string([]rune(qaContext)[sp.Start:sp.End])
		} else if e.Start != 0 {
			t.Errorf("%s: start %d is not in the context", e.ID, e.Start)
		}
		got = append(got, p)
	}
	want := []pos{
		// q1: question takes 6 tokens, so each window holds 11 context tokens
		// and repeats 4; "saskatoon" is token 15 of window 1 and token 8 of
		// window 2; window 3 does not contain it.
		{"q1", 15, 15, "Saskatoon"}, {"q1", 8, 8, "Saskatoon"}, {"q1", 0, 0, ""},
		// q2: 3 question tokens leave 14 context tokens per window (step
		// 10) over the 19 context tokens; window 1 ends before "south"
		// (context token 15), window 2 holds context tokens 10..18 at
		// positions 5..13, so "south saskatchewan river" is 10..12.
		{"q2", 0, 0, ""}, {"q2", 10, 12, "South Saskatchewan River"},
		// q3 is unanswerable: CLS in both windows.
		{"q3", 0, 0, ""}, {"q3", 0, 0, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	// Offsets are -1 outside the context.
	if e := f.Examples[0]; e.Offsets[0].Start != -1 || e.Offsets[7].Start != -1 || e.Offsets[8] != (tokenizer.Offset{Start: 0, End: 3}) || e.Offsets[19].Start != -1 {
		t.Errorf("offsets %v", e.Offsets)
	}
	// Without windows (long MaxLength) there is one example per question.
	f, _ = Preprocess(Config{Task: QuestionAnswering, Tokenizer: tok}, rows)
	if len(f.Examples) != 3 {
		t.Errorf("%d examples", len(f.Examples))
	}
	_, err = Preprocess(Config{Task: QuestionAnswering, Tokenizer: tok}, []Row{row(5, "question", "q?", "context", qaContext,
		"answers", map[string]any{"text": list("Regina"), "answer_start": list(30.0)})})
	if want := `data: t.jsonl line 5, field "answers" = "Regina": answer_start 30 points at " Regin" in the context`; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	b, err := Collator{Task: QuestionAnswering}.Collate([]*Example{&f.Examples[0], &f.Examples[1]})
	if err != nil || !reflect.DeepEqual(b.StartPositions, []int64{int64(f.Examples[0].Start), int64(f.Examples[1].Start)}) {
		t.Errorf("collated %v %v", b.StartPositions, err)
	}
}

func TestReadSQuAD(t *testing.T) {
	src := `{"version": "v2.0", "data": [
  {"title": "Prairies", "paragraphs": [
    {"context": "Regina is the capital.",
     "qas": [
       {"id": "a1", "question": "What is the capital?",
        "answers": [{"text": "Regina", "answer_start": 0}]},
       {"id": "a2", "question": "What is the largest city?", "answers": [],
        "plausible_answers": [{"text": "Regina", "answer_start": 0}], "is_impossible": true}
     ]}
  ]}
]}`
	d, err := ParseSQuAD([]byte(src), "s.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Rows) != 2 || d.Rows[0].Line != 5 || d.Rows[1].Line != 7 {
		t.Fatalf("rows %v", d.Rows)
	}
	if a := d.Rows[0].Fields["answers"].(map[string]any); !reflect.DeepEqual(a["text"], list("Regina")) || d.Rows[0].Fields["title"] != "Prairies" {
		t.Errorf("row 0 %v", d.Rows[0].Fields)
	}
	if a := d.Rows[1].Fields["answers"].(map[string]any); len(a["text"].([]any)) != 0 {
		t.Errorf("row 1 %v", a)
	}
	_, err = ParseSQuAD([]byte("{\"data\": [\n{\"paragraphs\": [\n{\"qas\": []}]}]}"), "s.json")
	if want := `data: s.json line 3: field "context" missing`; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestMultipleChoice(t *testing.T) {
	tok := bert(t)
	rows := []Row{
		row(1, "context", "She opened the oven.", "question", "Then she", "choices", list("took out bread.", "flew away."), "label", 0.0),
		row(2, "context", "It rained.", "choices", list("The street got wet.", "The sun was hot and bright."), "label", "1"),
	}
	f, err := Preprocess(Config{Task: MultipleChoice, Tokenizer: tok}, rows)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := tok.EncodePair("She opened the oven.", "Then she took out bread.", tokenizer.Options{})
	if !reflect.DeepEqual(f.Examples[0].Choices[0].InputIDs, enc.IDs) || f.Examples[1].Label != 1 {
		t.Errorf("choice 0 %v", f.Examples[0].Choices[0].InputIDs)
	}
	b, err := Collator{Task: MultipleChoice}.Collate([]*Example{&f.Examples[0], &f.Examples[1]})
	if err != nil {
		t.Fatal(err)
	}
	T := max(f.Examples[0].Len(), f.Examples[1].Len())
	if !reflect.DeepEqual(b.InputShape, []int{2, 2, T}) || len(b.InputIDs) != 4*T || !reflect.DeepEqual(b.Labels, []int64{0, 1}) {
		t.Errorf("shape %v labels %v", b.InputShape, b.Labels)
	}
	_, err = Preprocess(Config{Task: MultipleChoice, Tokenizer: tok}, []Row{row(3, "context", "x", "choices", list("a", "b"), "label", 2.0)})
	if want := `data: t.jsonl line 3, field "label" = 2: not a choice index 0..1`; err == nil || err.Error() != want {
		t.Errorf("got %v", err)
	}
}

func TestCausalLM(t *testing.T) {
	tok := bert(t)
	rows := []Row{row(1, "text", "one two three"), row(2, "text", "four five six seven")}
	f, err := Preprocess(Config{Task: CausalLM, Tokenizer: tok, BlockSize: 4}, rows)
	if err != nil {
		t.Fatal(err)
	}
	// [CLS] one two three [SEP] [CLS] four five six seven [SEP]: 11 tokens,
	// two blocks of 4, 3 dropped.
	want := [][]int{{101, 2028, 2048, 2093}, {102, 101, 2176, 2274}}
	if len(f.Examples) != 2 {
		t.Fatalf("%d blocks", len(f.Examples))
	}
	for i, e := range f.Examples {
		if !reflect.DeepEqual(e.InputIDs, want[i]) || !reflect.DeepEqual(e.Labels, want[i]) {
			t.Errorf("block %d: %v labels %v", i, e.InputIDs, e.Labels)
		}
	}
}

func TestPretokenizedPassThrough(t *testing.T) {
	tok := bert(t)
	rows := []Row{row(1, "input_ids", list(101.0, 7.0, 102.0), "attention_mask", list(1.0, 1.0, 0.0), "label", 1.0)}
	l, _ := NewLabelSet("a", "b")
	f, err := Preprocess(Config{Task: Classification, Tokenizer: tok, Labels: l}, rows)
	if err != nil {
		t.Fatal(err)
	}
	if e := f.Examples[0]; !reflect.DeepEqual(e.InputIDs, []int{101, 7, 102}) || !reflect.DeepEqual(e.AttentionMask, []int{1, 1, 0}) || e.Label != 1 {
		t.Errorf("%+v", e)
	}
	f, err = Preprocess(Config{Task: CausalLM, Tokenizer: tok, BlockSize: 2}, rows)
	if err != nil || !reflect.DeepEqual(f.Examples[0].Labels, []int{101, 7, 102}) {
		t.Errorf("clm %v %v", f, err)
	}
	_, err = Preprocess(Config{Task: Classification, Tokenizer: tok, Labels: l}, []Row{row(2, "input_ids", list(1.0, 2.5))})
	if want := `data: t.jsonl line 2, field "input_ids[1]" = 2.5: not an integer`; err == nil || err.Error() != want {
		t.Errorf("got %v", err)
	}
	_, err = Preprocess(Config{Task: Classification, Tokenizer: tok, Labels: l}, []Row{row(2, "input_ids", list(1.0), "attention_mask", list(1.0, 1.0), "label", 0.0)})
	if want := `data: t.jsonl line 2, field "attention_mask": has 2 values, input_ids has 1`; err == nil || err.Error() != want {
		t.Errorf("got %v", err)
	}
}

// TestShippedFiles reads every shipped data file end to end with no bad rows.
func TestShippedFiles(t *testing.T) {
	files, _ := filepath.Glob("../datasets/*.*")
	n := 0
	for _, p := range files {
		switch filepath.Ext(p) {
		case ".csv", ".jsonl", ".tsv":
		case ".json":
			if _, err := ReadSQuAD(p); err != nil {
				t.Error(err)
			}
			n++
			continue
		default:
			continue
		}
		d, err := ReadFile(p, Options{})
		if err != nil {
			t.Error(err)
			continue
		}
		if d.Len() == 0 {
			t.Errorf("%s is empty", p)
		}
		n++
	}
	if _, err := os.Stat("../datasets/NOTICE.md"); err != nil {
		t.Error(err)
	}
	t.Logf("%d shipped files read", n)
}

func TestPreprocessStream(t *testing.T) {
	tok := bert(t)
	src := "review,score\ngreat snack,great\nstale,other\n\"bad,row\n"
	r, err := NewReader(strings.NewReader(src), "f.csv", Options{Rename: map[string]string{"review": "text", "score": "label"}})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := NewLabelSet("great", "other")
	f, err := PreprocessStream(Config{Task: Classification, Tokenizer: tok, Labels: l}, r.All())
	if want := `data: f.csv line 4: extraneous or missing " in quoted-field`; f != nil || err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	// Renames apply at once, so a swap works.
	rows, _, err := readString(t, "s.jsonl", `{"a": 1, "b": 2}`, Options{Rename: map[string]string{"a": "b", "b": "a"}})
	if err != nil || rows[0].Fields["a"] != 2.0 || rows[0].Fields["b"] != 1.0 {
		t.Errorf("swap %v %v", rows, err)
	}
}

// TestTokenClassificationGPT2 checks the alignment with byte-level BPE,
// whose offsets include the space before each word.
func TestTokenClassificationGPT2(t *testing.T) {
	gpt2, err := tokenizer.Load("../tokenizer/testdata/gpt2")
	if err != nil {
		t.Fatal(err)
	}
	l, _ := NewLabelSet("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
	rows := []Row{row(1, "tokens", list("Ada", "Kilnsworth", "visited", "Saskatoon"), "ner_tags", list("B-PER", "I-PER", "O", "B-LOC"))}
	f, err := Preprocess(Config{Task: TokenClassification, Tokenizer: gpt2, Labels: l}, rows)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := gpt2.Encode("Ada Kilnsworth visited Saskatoon", tokenizer.Options{})
	// Each word's first piece carries its tag, the rest -100.
	var got []string
	for i, tok := range enc.Tokens {
		got = append(got, fmt.Sprintf("%s:%d", tok, f.Examples[0].Labels[i]))
	}
	want := "Ad:1 a:-100 ĠKil:2 n:-100 sworth:-100 Ġvisited:0 ĠSask:3 atoon:-100"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}
