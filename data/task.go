package data

import (
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/kiln-ml/kiln/tokenizer"
)

// IgnoreIndex is the label value losses skip (PyTorch's ignore_index, HF's
// -100): special tokens, continuation pieces, padding, unmasked MLM tokens.
const IgnoreIndex = -100

// Task names a preprocessing recipe, after Hugging Face's example scripts.
type Task int

const (
	// Classification is run_glue.py's single-label text classification of
	// one text or a pair.
	Classification Task = iota + 1
	// Regression is run_glue.py with a float label (num_labels 1, STS-B).
	Regression
	// MultiLabel turns a list of label names into a multi-hot float vector.
	MultiLabel
	// TokenClassification is run_ner.py: word-level tags become sub-word
	// labels.
	TokenClassification
	// QuestionAnswering is run_qa.py: SQuAD answers become start and end
	// token positions in doc-stride windows.
	QuestionAnswering
	// MultipleChoice is run_swag.py: one (context, choice) pair per choice.
	MultipleChoice
	// CausalLM is run_clm.py: texts concatenated and cut into blocks.
	CausalLM
	// MaskedLM is run_mlm.py: blocks (or lines) masked at collation time.
	MaskedLM
)

var taskNames = map[Task]string{
	Classification: "classification", Regression: "regression", MultiLabel: "multilabel",
	TokenClassification: "token-classification", QuestionAnswering: "qa",
	MultipleChoice: "multiple-choice", CausalLM: "clm", MaskedLM: "mlm",
}

// String returns the task's command-line name.
func (t Task) String() string {
	if s, ok := taskNames[t]; ok {
		return s
	}
	return fmt.Sprintf("Task(%d)", int(t))
}

// ParseTask returns the task with the given command-line name.
func ParseTask(s string) (Task, error) {
	for t, n := range taskNames {
		if n == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("data: unknown task %q (classification, regression, multilabel, token-classification, qa, multiple-choice, clm, mlm)", s)
}

// Example is one model input after preprocessing. Which label field is set
// depends on the task; see Features.
type Example struct {
	InputIDs      []int
	TokenTypeIDs  []int // nil when not given (pre-tokenized rows)
	AttentionMask []int // nil means all ones
	// SpecialTokensMask marks special tokens (1), which masked-LM never
	// masks. Set for MaskedLM only.
	SpecialTokensMask []int

	Label  int       // Classification, MultipleChoice: class or choice id
	Labels []int     // TokenClassification, CausalLM: one per token, IgnoreIndex where ignored
	Target []float32 // Regression: one value; MultiLabel: multi-hot over the label set
	Start  int       // QuestionAnswering: answer start token (0, the CLS token, when absent)
	End    int       // QuestionAnswering: answer end token, inclusive

	// Choices holds one encoding per choice for MultipleChoice; the
	// top-level token fields are then empty.
	Choices []Example

	// ID is the question id for QuestionAnswering (several windows share it).
	ID string
	// Offsets are the character offsets into the context of each token for
	// QuestionAnswering, with {-1, -1} for tokens outside the context, as
	// run_qa.py keeps them to turn predictions back into answer text.
	Offsets []tokenizer.Offset
	// Source and Line say which row the example came from.
	Source string
	Line   int
}

// Len returns the number of tokens (of the longest choice for
// MultipleChoice).
func (e *Example) Len() int {
	n := len(e.InputIDs)
	for i := range e.Choices {
		n = max(n, len(e.Choices[i].InputIDs))
	}
	return n
}

// Features is a preprocessed split.
type Features struct {
	Task     Task
	Examples []Example
	Labels   *LabelSet // the label set used, when the task has named labels
	Skipped  Skipped   // rows skipped because Config.SkipBad was set
	// Questions holds, for QuestionAnswering, each question's context and
	// gold answer texts by ID: what turns predicted token spans back into
	// text and scores them (SQuAD exact match and F1).
	Questions map[string]Question
}

// Question is one QA question's context and its gold answers (none for an
// unanswerable SQuAD v2 question).
type Question struct {
	Context string
	Answers []string
}

// Config describes how to turn rows into Examples. Field names default to
// the names Hugging Face's scripts and datasets use.
type Config struct {
	Task      Task
	Tokenizer *tokenizer.Tokenizer

	// TextField is the text (default "text"); PairField the optional second
	// text of a pair ("" for single texts).
	TextField, PairField string
	// LabelField is the label (default "label"; "ner_tags" for token
	// classification, "label" for multiple choice).
	LabelField string
	// Labels is the label set. Required for Classification, MultiLabel and
	// TokenClassification; build it with InferLabels on the training split
	// (or LabelSetFromConfig). A label outside it is an error naming the row.
	Labels *LabelSet
	// LabelSep splits a multi-label string cell ("a;b"); default ";".
	LabelSep string

	// MaxLength truncates (LongestFirst; only the context for QA). 0 means no
	// truncation, except for QA, which needs it (default 384).
	MaxLength int
	// Stride is QA's doc_stride: tokens shared by consecutive windows
	// (default 128, or less if MaxLength is small).
	Stride int

	// TokensField holds the words for TokenClassification (default
	// "tokens").
	TokensField string
	// LabelAllTokens labels every piece of a word instead of only the first
	// (B- tags become I- tags on continuation pieces, as run_ner.py does).
	LabelAllTokens bool

	// QuestionField, ContextField, AnswersField and IDField name the QA
	// fields (defaults "question", "context", "answers", "id").
	// ContextField and QuestionField are also multiple choice's first
	// sentence and optional header (SWAG's sent1 and sent2).
	QuestionField, ContextField, AnswersField, IDField string

	// ChoicesField is a list field with the choices for MultipleChoice
	// (default "choices"); or set ChoiceFields to one field per choice
	// (SWAG: "ending0".."ending3").
	ChoicesField string
	ChoiceFields []string

	// BlockSize is the length of each CausalLM / MaskedLM block (default
	// 128 for MLM and CLM).
	BlockSize int
	// LineByLine makes MaskedLM keep each text as its own example
	// (truncated to MaxLength, or BlockSize when MaxLength is 0) instead of
	// concatenating.
	LineByLine bool

	// SkipBad skips bad rows, recording each in Features.Skipped.
	SkipBad bool
}

func (c *Config) defaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.TextField, "text")
	def(&c.TokensField, "tokens")
	if c.Task == TokenClassification {
		def(&c.LabelField, "ner_tags")
	}
	def(&c.LabelField, "label")
	def(&c.LabelSep, ";")
	def(&c.QuestionField, "question")
	def(&c.ContextField, "context")
	def(&c.AnswersField, "answers")
	def(&c.IDField, "id")
	def(&c.ChoicesField, "choices")
	if c.BlockSize == 0 {
		c.BlockSize = 128
	}
	if c.Task == QuestionAnswering {
		if c.MaxLength == 0 {
			c.MaxLength = 384
		}
		if c.Stride == 0 {
			c.Stride = min(128, c.MaxLength/4)
		}
	}
}

// Preprocess turns rows into examples for cfg.Task. Rows that carry
// "input_ids" are pre-tokenized and pass through unchanged (with their
// "attention_mask", "token_type_ids" and label fields: "label"/"labels",
// "start_positions"/"end_positions" for QA). Every bad row is an error naming
// its file, line and field, or, with SkipBad, an entry in Features.Skipped.
func Preprocess(cfg Config, rows []Row) (*Features, error) {
	return PreprocessStream(cfg, func(yield func(Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	})
}

// PreprocessStream is Preprocess over a stream of rows, such as
// Reader.All(), so that a file larger than memory is tokenized row by row
// (only the examples are kept; for CausalLM and MaskedLM these are the
// packed blocks). A read error stops it.
func PreprocessStream(cfg Config, rows iter.Seq2[Row, error]) (*Features, error) {
	cfg.defaults()
	if cfg.Tokenizer == nil {
		return nil, errors.New("data: Config.Tokenizer is nil")
	}
	switch cfg.Task {
	case Classification, MultiLabel, TokenClassification:
		if cfg.Labels == nil {
			return nil, fmt.Errorf("data: task %v needs Config.Labels (use InferLabels on the training rows)", cfg.Task)
		}
	case Regression, QuestionAnswering, MultipleChoice, CausalLM, MaskedLM:
	default:
		return nil, fmt.Errorf("data: unknown task %v", cfg.Task)
	}
	p := &preprocessor{cfg: cfg, out: &Features{Task: cfg.Task, Labels: cfg.Labels}}
	if cfg.Task == CausalLM || cfg.Task == MaskedLM && !cfg.LineByLine {
		return p.out, p.lm(rows)
	}
	for row, err := range rows {
		if err != nil {
			return nil, err
		}
		n := len(p.out.Examples)
		err = p.row(row)
		if err == nil {
			continue
		}
		p.out.Examples = p.out.Examples[:n] // a row yields all its examples or none
		var re *RowError
		if cfg.SkipBad && errors.As(err, &re) {
			p.out.Skipped = append(p.out.Skipped, re)
			continue
		}
		return nil, err
	}
	return p.out, nil
}

type preprocessor struct {
	cfg Config
	out *Features
}

func (p *preprocessor) add(row Row, e Example) {
	e.Source, e.Line = row.File, row.Line
	p.out.Examples = append(p.out.Examples, e)
}

// fromEncoding copies the model inputs of an encoding.
func fromEncoding(enc *tokenizer.Encoding) Example {
	return Example{
		InputIDs:      enc.IDs,
		TokenTypeIDs:  enc.TypeIDs,
		AttentionMask: enc.AttentionMask,
	}
}

func (p *preprocessor) opts() tokenizer.Options {
	if p.cfg.MaxLength > 0 {
		return tokenizer.Options{Truncation: tokenizer.LongestFirst, MaxLength: p.cfg.MaxLength}
	}
	return tokenizer.Options{}
}

// encode encodes a text or pair, turning a tokenizer error into a row error.
func (p *preprocessor) encode(row Row, a, b string, pair bool, o tokenizer.Options) (*tokenizer.Encoding, error) {
	var enc *tokenizer.Encoding
	var err error
	if pair {
		enc, err = p.cfg.Tokenizer.EncodePair(a, b, o)
	} else {
		enc, err = p.cfg.Tokenizer.Encode(a, o)
	}
	if err != nil {
		return nil, row.Errorf("", nil, "%v", err)
	}
	return enc, nil
}

func (p *preprocessor) row(row Row) error {
	if row.Has("input_ids") {
		return p.pretokenized(row)
	}
	c := &p.cfg
	switch c.Task {
	case Classification, Regression, MultiLabel:
		text, err := row.Text(c.TextField)
		if err != nil {
			return err
		}
		var pair string
		if c.PairField != "" {
			if pair, err = row.Text(c.PairField); err != nil {
				return err
			}
		}
		var e Example
		if err := p.label(row, &e); err != nil {
			return err
		}
		enc, err := p.encode(row, text, pair, c.PairField != "", p.opts())
		if err != nil {
			return err
		}
		x := fromEncoding(enc)
		x.Label, x.Target = e.Label, e.Target
		p.add(row, x)
		return nil
	case TokenClassification:
		return p.tokenClassification(row)
	case QuestionAnswering:
		return p.qa(row)
	case MultipleChoice:
		return p.multipleChoice(row)
	case MaskedLM: // line by line
		text, err := row.Text(c.TextField)
		if err != nil {
			return err
		}
		o := tokenizer.Options{Truncation: tokenizer.LongestFirst, MaxLength: c.MaxLength}
		if o.MaxLength == 0 {
			o.MaxLength = c.BlockSize
		}
		enc, err := p.encode(row, text, "", false, o)
		if err != nil {
			return err
		}
		x := fromEncoding(enc)
		x.SpecialTokensMask = enc.SpecialTokensMask
		p.add(row, x)
		return nil
	}
	return fmt.Errorf("data: task %v has no row preprocessing", c.Task)
}

// label reads the sequence-level label of row into e.
func (p *preprocessor) label(row Row, e *Example) error {
	c := &p.cfg
	switch c.Task {
	case Classification:
		name, err := row.Str(c.LabelField)
		if err != nil {
			return err
		}
		id, ok := c.Labels.ID(name)
		if !ok {
			return row.Errorf(c.LabelField, name, "not in the label set %s", c.Labels.quoteNames())
		}
		e.Label = id
	case Regression:
		f, err := row.Float(c.LabelField)
		if err != nil {
			return err
		}
		e.Target = []float32{float32(f)}
	case MultiLabel:
		names, err := row.Strs(c.LabelField, c.LabelSep)
		if err != nil {
			return err
		}
		e.Target = make([]float32, c.Labels.Len())
		for _, n := range names {
			id, ok := c.Labels.ID(n)
			if !ok {
				return row.Errorf(c.LabelField, n, "not in the label set %s", c.Labels.quoteNames())
			}
			e.Target[id] = 1
		}
	}
	return nil
}

// pretokenized passes a row with input_ids through.
func (p *preprocessor) pretokenized(row Row) error {
	if p.cfg.Task == MultipleChoice {
		return row.Errorf("input_ids", nil, "pre-tokenized rows are not supported for multiple choice; give the texts")
	}
	ids, err := row.Ints("input_ids")
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return row.Errorf("input_ids", nil, "empty")
	}
	e := Example{InputIDs: ids}
	same := func(field string) ([]int, error) {
		if !row.Has(field) {
			return nil, nil
		}
		v, err := row.Ints(field)
		if err == nil && len(v) != len(ids) {
			err = row.Errorf(field, nil, "has %d values, input_ids has %d", len(v), len(ids))
		}
		return v, err
	}
	if e.AttentionMask, err = same("attention_mask"); err != nil {
		return err
	}
	if e.TokenTypeIDs, err = same("token_type_ids"); err != nil {
		return err
	}
	if e.SpecialTokensMask, err = same("special_tokens_mask"); err != nil {
		return err
	}
	labelField := "labels"
	if !row.Has(labelField) {
		labelField = "label"
	}
	switch p.cfg.Task {
	case Classification:
		if e.Label, err = row.Int(labelField); err != nil {
			return err
		}
		if l := p.cfg.Labels; l != nil && (e.Label < 0 || e.Label >= l.Len()) {
			return row.Errorf(labelField, float64(e.Label), "not a label id 0..%d", l.Len()-1)
		}
	case Regression:
		f, err := row.Float(labelField)
		if err != nil {
			return err
		}
		e.Target = []float32{float32(f)}
	case MultiLabel:
		list, ok := row.Fields[labelField].([]any)
		if !ok {
			return row.Errorf(labelField, row.Fields[labelField], "must be a list of numbers")
		}
		for i, v := range list {
			f, ok := v.(float64)
			if !ok {
				return row.Errorf(fmt.Sprintf("%s[%d]", labelField, i), v, "not a number")
			}
			e.Target = append(e.Target, float32(f))
		}
	case TokenClassification:
		if e.Labels, err = same("labels"); err != nil {
			return err
		}
		if e.Labels == nil {
			return row.Errorf("labels", nil, "missing")
		}
	case CausalLM:
		if e.Labels, err = same("labels"); err != nil {
			return err
		}
		if e.Labels == nil {
			e.Labels = append([]int(nil), ids...)
		}
	case QuestionAnswering:
		if e.Start, err = row.Int("start_positions"); err != nil {
			return err
		}
		if e.End, err = row.Int("end_positions"); err != nil {
			return err
		}
	}
	p.add(row, e)
	return nil
}

// ---- token classification ----

// tokenClassification aligns word-level tags with sub-word tokens as
// run_ner.py's tokenize_and_align_labels does. kiln's tokenizer has no
// is_split_into_words mode, so the words are joined with single spaces and
// each token is assigned to the word its character offset falls in; for
// WordPiece this is exactly HF's result, for byte-level BPE the first word
// lacks the prefix space HF would add.
func (p *preprocessor) tokenClassification(row Row) error {
	c := &p.cfg
	words, err := row.Strs(c.TokensField, "")
	if err != nil {
		return err
	}
	if _, ok := row.Fields[c.TokensField].([]any); !ok {
		return row.Errorf(c.TokensField, row.Fields[c.TokensField], "must be a list of words")
	}
	if len(words) == 0 {
		return row.Errorf(c.TokensField, nil, "empty text")
	}
	tags, err := row.Strs(c.LabelField, "")
	if err != nil {
		return err
	}
	if _, ok := row.Fields[c.LabelField].([]any); !ok {
		return row.Errorf(c.LabelField, row.Fields[c.LabelField], "must be a list of tags")
	}
	if len(tags) != len(words) {
		return row.Errorf(c.LabelField, nil, "has %d tags for %d words", len(tags), len(words))
	}
	tagIDs := make([]int, len(tags))
	for i, t := range tags {
		id, ok := c.Labels.ID(t)
		if !ok {
			return row.Errorf(fmt.Sprintf("%s[%d]", c.LabelField, i), t, "not in the label set %s", c.Labels.quoteNames())
		}
		tagIDs[i] = id
	}
	// wordAt[ch] is the word holding character ch of the joined text.
	var text strings.Builder
	var wordAt []int
	for i, w := range words {
		if strings.TrimSpace(w) == "" {
			return row.Errorf(fmt.Sprintf("%s[%d]", c.TokensField, i), w, "empty word")
		}
		if i > 0 {
			text.WriteByte(' ')
			wordAt = append(wordAt, -1)
		}
		text.WriteString(w)
		for range w {
			wordAt = append(wordAt, i)
		}
	}
	enc, err := p.encode(row, text.String(), "", false, p.opts())
	if err != nil {
		return err
	}
	x := fromEncoding(enc)
	x.Labels = make([]int, enc.Len())
	prev := -1
	for t := range enc.IDs {
		x.Labels[t] = IgnoreIndex
		if enc.SequenceIDs[t] < 0 {
			prev = -1
			continue
		}
		// The word is the one holding the token's first character that is
		// not the joining space (byte-level BPE offsets include the space
		// before a word: "Ġworld" covers " world").
		w := -1
		for ch := enc.Offsets[t].Start; ch < enc.Offsets[t].End && ch < len(wordAt); ch++ {
			if wordAt[ch] >= 0 {
				w = wordAt[ch]
				break
			}
		}
		switch {
		case w < 0:
		case w != prev:
			x.Labels[t] = tagIDs[w]
		case c.LabelAllTokens:
			x.Labels[t] = p.insideOf(tagIDs[w])
		}
		prev = w
	}
	p.add(row, x)
	return nil
}

// insideOf maps a B-X tag id to I-X when the label set has I-X (run_ner.py's
// b_to_i_label), else returns id.
func (p *preprocessor) insideOf(id int) int {
	name := p.cfg.Labels.Name(id)
	if rest, ok := strings.CutPrefix(name, "B-"); ok {
		if j, ok := p.cfg.Labels.ID("I-" + rest); ok {
			return j
		}
	}
	return id
}

// ---- multiple choice ----

func (p *preprocessor) multipleChoice(row Row) error {
	c := &p.cfg
	ctx, err := row.Text(c.ContextField)
	if err != nil {
		return err
	}
	var header string
	if row.Has(c.QuestionField) {
		if header, err = row.Str(c.QuestionField); err != nil {
			return err
		}
	}
	var choices []string
	if len(c.ChoiceFields) > 0 {
		for _, f := range c.ChoiceFields {
			s, err := row.Text(f)
			if err != nil {
				return err
			}
			choices = append(choices, s)
		}
	} else {
		if choices, err = row.Strs(c.ChoicesField, ""); err != nil {
			return err
		}
		for i, s := range choices {
			if strings.TrimSpace(s) == "" {
				return row.Errorf(fmt.Sprintf("%s[%d]", c.ChoicesField, i), nil, "empty text")
			}
		}
	}
	if len(choices) < 2 {
		return row.Errorf(c.ChoicesField, nil, "needs at least 2 choices, has %d", len(choices))
	}
	label, err := row.Int(c.LabelField)
	if err != nil {
		return err
	}
	if label < 0 || label >= len(choices) {
		return row.Errorf(c.LabelField, float64(label), "not a choice index 0..%d", len(choices)-1)
	}
	e := Example{Label: label}
	for _, ch := range choices {
		second := ch
		if header != "" {
			second = header + " " + ch // run_swag.py: f"{header} {end}"
		}
		enc, err := p.encode(row, ctx, second, true, p.opts())
		if err != nil {
			return err
		}
		e.Choices = append(e.Choices, fromEncoding(enc))
	}
	p.add(row, e)
	return nil
}

// ---- causal and masked LM ----

// lm concatenates the tokenized texts and cuts the stream into blocks of
// BlockSize, dropping the remainder, as run_clm.py and run_mlm.py's
// group_texts do (HF maps group_texts over chunks of 1000 rows, so its
// remainder is dropped per chunk; kiln concatenates the whole split). Causal
// LM labels are the inputs (the model shifts them).
func (p *preprocessor) lm(rows iter.Seq2[Row, error]) error {
	c := &p.cfg
	var ids, types, special []int
	flush := func(final bool) {
		for len(ids) >= c.BlockSize {
			e := Example{
				InputIDs:     ids[:c.BlockSize:c.BlockSize],
				TokenTypeIDs: types[:c.BlockSize:c.BlockSize],
			}
			if c.Task == CausalLM {
				e.Labels = append([]int(nil), e.InputIDs...)
			} else {
				e.SpecialTokensMask = special[:c.BlockSize:c.BlockSize]
			}
			p.out.Examples = append(p.out.Examples, e)
			ids, types, special = ids[c.BlockSize:], types[c.BlockSize:], special[c.BlockSize:]
		}
		if final {
			ids, types, special = nil, nil, nil
		}
	}
	for row, err := range rows {
		if err != nil {
			return err
		}
		if row.Has("input_ids") {
			n := len(p.out.Examples)
			if err := p.pretokenized(row); err != nil {
				p.out.Examples = p.out.Examples[:n]
				if re := (*RowError)(nil); c.SkipBad && errors.As(err, &re) {
					p.out.Skipped = append(p.out.Skipped, re)
					continue
				}
				return err
			}
			continue
		}
		text, err := row.Text(c.TextField)
		if err == nil {
			var enc *tokenizer.Encoding
			if enc, err = p.encode(row, text, "", false, tokenizer.Options{}); err == nil {
				ids = append(ids, enc.IDs...)
				types = append(types, enc.TypeIDs...)
				special = append(special, enc.SpecialTokensMask...)
				flush(false)
				continue
			}
		}
		var re *RowError
		if c.SkipBad && errors.As(err, &re) {
			p.out.Skipped = append(p.out.Skipped, re)
			continue
		}
		return err
	}
	flush(true)
	return nil
}
