package trainer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tokenizer"
)

// TaskInfo is what a user-facing task name means: the model head, the data
// recipe and, for sequence classification, the problem type.
type TaskInfo struct {
	Name        string
	Kind        task.Kind
	Data        data.Task
	ProblemType task.ProblemType
}

// Tasks are the task names of the command line and the Go API.
var Tasks = []TaskInfo{
	{"text-classification", task.SequenceClassification, data.Classification, task.SingleLabel},
	{"text-regression", task.SequenceClassification, data.Regression, task.Regression},
	{"multi-label-classification", task.SequenceClassification, data.MultiLabel, task.MultiLabel},
	{"token-classification", task.TokenClassification, data.TokenClassification, ""},
	{"question-answering", task.QuestionAnswering, data.QuestionAnswering, ""},
	{"multiple-choice", task.MultipleChoice, data.MultipleChoice, ""},
	{"causal-lm", task.CausalLM, data.CausalLM, ""},
	{"masked-lm", task.MaskedLM, data.MaskedLM, ""},
}

// LookupTask resolves a task name (underscores and dashes alike).
func LookupTask(name string) (TaskInfo, error) {
	n := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	var names []string
	for _, t := range Tasks {
		if t.Name == n {
			return t, nil
		}
		names = append(names, t.Name)
	}
	return TaskInfo{}, fmt.Errorf("unknown task %q (tasks: %s)", name, strings.Join(names, ", "))
}

// DataSpec says how to read one split.
type DataSpec struct {
	// File is a CSV, TSV, JSON or JSONL file (SQuAD JSON for question
	// answering).
	File string
	Task TaskInfo
	// Config holds the field names, label set and lengths (see
	// data.Config); Task and Tokenizer are filled in. A nil Labels is
	// inferred from the file for the tasks with named labels: pass the
	// training split's label set when reading evaluation data.
	Config data.Config
	// Options control the reader (separator, renames, skipping bad rows).
	Options data.Options
}

// LoadData reads and preprocesses one split.
func LoadData(spec DataSpec, tok *tokenizer.Tokenizer) (*data.Features, error) {
	var rows []data.Row
	if spec.Task.Data == data.QuestionAnswering && strings.HasSuffix(strings.ToLower(spec.File), ".json") {
		ds, err := data.ReadSQuAD(spec.File)
		if err != nil {
			return nil, err
		}
		rows = ds.Rows
	} else {
		opts := spec.Options
		ds, err := data.ReadFile(spec.File, opts)
		if err != nil {
			return nil, err
		}
		rows = ds.Rows
	}
	return PrepareData(spec, rows, tok)
}

// PrepareData preprocesses rows already read (spec.File names them in
// errors): labels are inferred from the rows when spec.Config.Labels is nil.
func PrepareData(spec DataSpec, rows []data.Row, tok *tokenizer.Tokenizer) (*data.Features, error) {
	if tok == nil {
		return nil, fmt.Errorf("%s: no tokenizer", spec.File)
	}
	cfg := spec.Config
	cfg.Task, cfg.Tokenizer = spec.Task.Data, tok
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows", spec.File)
	}
	named := cfg.Task == data.Classification || cfg.Task == data.MultiLabel || cfg.Task == data.TokenClassification
	if cfg.Labels == nil && named {
		field, sep := cfg.LabelField, cfg.LabelSep
		switch cfg.Task {
		case data.Classification, data.MultiLabel:
			if field == "" {
				field = "label"
			}
			if cfg.Task == data.MultiLabel && sep == "" {
				sep = ";"
			}
		case data.TokenClassification:
			if field == "" {
				field = "ner_tags"
			}
		}
		if field != "" {
			ls, err := data.InferLabels(rows, field, sep)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", spec.File, err)
			}
			if ls.Len() == 0 {
				return nil, fmt.Errorf("%s: no labels in field %q (set the label column)", spec.File, field)
			}
			cfg.Labels = ls
		}
	}
	f, err := data.Preprocess(cfg, rows)
	if err != nil {
		return nil, err
	}
	if len(f.Examples) == 0 {
		return nil, fmt.Errorf("%s: no examples after preprocessing", spec.File)
	}
	return f, nil
}

// ModelLabels decides the label set of a classification model: the
// checkpoint's own id2label when it has real names that cover the data's
// labels (a fine-tuned model), else the data's (a new head). The second
// result says whether the head must be rebuilt for the data's labels.
func ModelLabels(id2label map[int]string, dataLabels *data.LabelSet) ([]string, bool) {
	if dataLabels == nil {
		return nil, false
	}
	names := make([]string, 0, len(id2label))
	ids := make([]int, 0, len(id2label))
	for id := range id2label {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		names = append(names, id2label[id])
	}
	if !isDefaultLabels(id2label) {
		have := map[string]bool{}
		for _, n := range names {
			have[n] = true
		}
		covers := true
		for _, n := range dataLabels.Names() {
			covers = covers && have[n]
		}
		if covers {
			return names, false
		}
	}
	return dataLabels.Names(), true
}

// isDefaultLabels says whether id2label is HF's placeholder LABEL_0..N-1.
func isDefaultLabels(id2label map[int]string) bool {
	for id, n := range id2label {
		if n != fmt.Sprintf("LABEL_%d", id) {
			return false
		}
	}
	return true
}
