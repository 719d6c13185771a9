package metrics

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// IgnoreIndex is the label id that marks a position to skip (HF's -100):
// padding, special tokens and non-first sub-words in token classification.
const IgnoreIndex = -100

// Batch is one evaluation batch as plain slices. A metric reads only the
// fields it needs and says which in its doc comment; the others may be nil.
type Batch struct {
	// PredIDs and LabelIDs hold predicted and true class ids (the argmax
	// of the logits, not the logits): [N] for classification, [N, Width]
	// row-major for token classification (Width = sequence length) and
	// multi-label (Width = number of labels, multi-hot 0/1).
	PredIDs, LabelIDs []int64
	// Width is the number of columns of PredIDs and LabelIDs; 0 means 1.
	Width int

	// Preds and Labels hold regression outputs and targets, [N].
	Preds, Labels []float64

	// PredTexts holds one predicted answer per question and GoldTexts its
	// gold answers (extractive QA). An empty GoldTexts[i] means the
	// question has no answer (SQuAD v2).
	PredTexts []string
	GoldTexts [][]string

	// LossSum is the summed token loss of the batch and Count the number of
	// tokens it was summed over (language modelling).
	LossSum float64
	Count   int64
}

// Metric is a streaming accumulator. Add folds a batch into the running
// state, Compute reports the scores so far without changing the state, and
// Reset starts over. Adding batch by batch gives the same scores as adding
// everything at once.
type Metric interface {
	Add(b Batch) error
	Compute() map[string]float64
	Reset()
}

// Func is a user metric written the way HF's compute_metrics is: it gets all
// predictions and all labels at once. Use it through FuncMetric, which keeps
// what it is given (so it costs the memory streaming metrics avoid).
type Func func(preds, labels []float64) map[string]float64

// FuncMetric adapts a Func into a Metric. It concatenates Batch.Preds and
// Batch.Labels; when a batch has no Preds it takes PredIDs and LabelIDs as
// float64 instead (exact for ids below 2^53).
type FuncMetric struct {
	Fn            Func
	preds, labels []float64
}

// NewFunc returns fn as a Metric.
func NewFunc(fn Func) *FuncMetric { return &FuncMetric{Fn: fn} }

// Add keeps the batch's predictions and labels.
func (f *FuncMetric) Add(b Batch) error {
	if b.Preds == nil && b.Labels == nil {
		if len(b.PredIDs) != len(b.LabelIDs) {
			return fmt.Errorf("metrics: func: %d predicted ids but %d labels", len(b.PredIDs), len(b.LabelIDs))
		}
		for i := range b.PredIDs {
			f.preds = append(f.preds, float64(b.PredIDs[i]))
			f.labels = append(f.labels, float64(b.LabelIDs[i]))
		}
		return nil
	}
	f.preds = append(f.preds, b.Preds...)
	f.labels = append(f.labels, b.Labels...)
	return nil
}

// Compute calls the user function on everything added so far.
func (f *FuncMetric) Compute() map[string]float64 {
	if f.Fn == nil {
		return map[string]float64{}
	}
	return f.Fn(f.preds, f.labels)
}

// Reset drops the kept values.
func (f *FuncMetric) Reset() { f.preds, f.labels = f.preds[:0], f.labels[:0] }

// Multi runs several metrics on the same batches and merges their scores; a
// later metric's key wins over an earlier one's.
type Multi []Metric

// Add feeds b to every metric and returns the first error.
func (m Multi) Add(b Batch) error {
	for _, x := range m {
		if err := x.Add(b); err != nil {
			return err
		}
	}
	return nil
}

// Compute merges the scores of all metrics.
func (m Multi) Compute() map[string]float64 {
	out := map[string]float64{}
	for _, x := range m {
		maps.Copy(out, x.Compute())
	}
	return out
}

// Reset resets every metric.
func (m Multi) Reset() {
	for _, x := range m {
		x.Reset()
	}
}

// Options configures the default metrics of a task.
type Options struct {
	// NumClasses is the number of classes (classification) or labels
	// (multi-label). Classification uses binary F1 (pos_label 1) when it is
	// 2 and macro F1 otherwise.
	NumClasses int
	// LabelNames maps token-classification label ids to IOB tags
	// ("O", "B-PER", "I-PER", ...).
	LabelNames []string
	// SQuADv2 selects the SQuAD v2 script (no-answer questions, keys exact,
	// f1, HasAns_*, NoAns_*) for question answering.
	SQuADv2 bool
}

// Factory builds a task's metric from options.
type Factory func(o Options) (Metric, error)

var (
	regMu    sync.RWMutex
	registry = map[string]Factory{}
	aliases  = map[string]string{
		"text-classification":         "classification",
		"sequence-classification":     "classification",
		"single-label-classification": "classification",
		"multiple-choice":             "classification",
		"multi-label":                 "multilabel",
		"multi-label-classification":  "multilabel",
		"ner":                         "token-classification",
		"question-answering":          "qa",
		"causal-lm":                   "clm",
		"masked-lm":                   "mlm",
	}
)

// normTask folds case and separators so "token_classification",
// "Token-Classification" and task.TokenClassification name the same task.
func normTask(task string) string {
	t := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(task)), "_", "-")
	if a, ok := aliases[t]; ok {
		return a
	}
	return t
}

// Register makes f the metric factory for task, replacing the built-in
// default, so a user can change what a task reports.
func Register(task string, f Factory) error {
	t := normTask(task)
	if t == "" || f == nil {
		return fmt.Errorf("metrics.Register: task %q needs a name and a non-nil factory", task)
	}
	regMu.Lock()
	defer regMu.Unlock()
	registry[t] = f
	return nil
}

// Tasks lists the registered task names.
func Tasks() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return slices.Sorted(maps.Keys(registry))
}

// ForTask builds the default metrics of task: classification → accuracy,
// precision, recall, f1 (binary for 2 classes, macro otherwise),
// matthews_correlation; regression → mse, pearson, spearmanr; multilabel →
// f1_micro, f1_macro, accuracy (subset); token-classification → seqeval
// overall_* and per-type scores; qa → exact_match, f1 (SQuAD v1) or the v2
// keys; clm and mlm → perplexity.
func ForTask(task string, o Options) (Metric, error) {
	regMu.RLock()
	f, ok := registry[normTask(task)]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("metrics: no metrics for task %q (known: %s); register some with metrics.Register", task, strings.Join(Tasks(), ", "))
	}
	return f(o)
}

func init() {
	registry["classification"] = func(o Options) (Metric, error) {
		avg := Macro
		if o.NumClasses == 2 {
			avg = Binary
		}
		return NewClassification(o.NumClasses, avg)
	}
	registry["regression"] = func(Options) (Metric, error) { return NewRegression(), nil }
	registry["multilabel"] = func(o Options) (Metric, error) { return NewMultiLabel(o.NumClasses) }
	registry["token-classification"] = func(o Options) (Metric, error) { return NewSeqeval(o.LabelNames) }
	registry["qa"] = func(o Options) (Metric, error) { return NewSQuAD(o.SQuADv2), nil }
	registry["clm"] = func(Options) (Metric, error) { return NewPerplexity(), nil }
	registry["mlm"] = registry["clm"]
}
