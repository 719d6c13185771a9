// Package task decides which loss a model head trains with, the way Hugging
// Face Transformers decides it, and computes it with package loss.
//
// A Spec names the head (Kind), its label count and, optionally, an explicit
// problem type or a registered loss with options; Compute takes the head's
// outputs and labels and returns the loss together with an Explanation of
// every decision ("3 labels, integer labels -> single-label classification
// -> cross_entropy, mean over 16 non-ignored labels").
//
// The decision table is HF's (reference/losses.md §1.3):
//
//   - sequence classification infers the problem type from NumLabels and the
//     label dtype: 1 label -> regression (MSE); more, with int64 labels ->
//     single-label (cross-entropy); more, with float or bool labels ->
//     multi-label (BCE-with-logits);
//   - token classification and masked LM: flattened cross-entropy, -100
//     ignored; causal LM: the same after shifting labels left by one;
//   - question answering: start and end positions clamped to [0, T],
//     positions >= T ignored, mean of the two cross-entropies;
//   - multiple choice: per-choice scores reshaped to (B, K), cross-entropy.
//
// An explicit ProblemType or Loss always wins. Where HF fails late or
// silently, kiln fails early with an error naming the example and value, or
// converts with a note: MSE never broadcasts mismatched shapes, integer
// labels with NumLabels = 1 become floats, a label outside [0, NumLabels) is
// an error, and a batch whose labels are all ignored gives 0 (not NaN).
//
// Normalisation: with Inputs.NumItemsInBatch = N > 0 (the non-ignored labels
// of a whole accumulation group, all micro-batches and ranks, from
// CountItems) every head returns sum-of-losses / N, so the summed gradient of
// the micro-batches equals that of one big batch. Without it the loss is the
// mean over this batch.
package task

import (
	"fmt"
	"strings"

	"github.com/kiln-ml/kiln/loss"
	"github.com/kiln-ml/kiln/tensor"
)

// Kind is a model head, named like HF's LOSS_MAPPING keys.
type Kind string

// The heads kiln knows.
const (
	SequenceClassification Kind = "sequence_classification"
	TokenClassification    Kind = "token_classification"
	QuestionAnswering      Kind = "question_answering"
	MultipleChoice         Kind = "multiple_choice"
	MaskedLM               Kind = "masked_lm"
	CausalLM               Kind = "causal_lm"
)

var kinds = []Kind{SequenceClassification, TokenClassification, QuestionAnswering, MultipleChoice, MaskedLM, CausalLM}

// hfSuffix maps HF class-name suffixes to kinds, longest match first.
var hfSuffix = []struct {
	suffix string
	kind   Kind
}{
	{"ForSequenceClassification", SequenceClassification},
	{"ForTokenClassification", TokenClassification},
	{"ForQuestionAnswering", QuestionAnswering},
	{"ForMultipleChoice", MultipleChoice},
	{"ForMaskedLM", MaskedLM},
	{"ForCausalLM", CausalLM},
	{"ForConditionalGeneration", CausalLM},
	{"LMHeadModel", CausalLM},
}

// ParseKind accepts a kind name ("causal_lm") or an HF architecture class
// name ("BertForSequenceClassification", "GPT2LMHeadModel"). Unlike HF, an
// unknown name is an error, not a silent fallback to the causal-LM loss.
func ParseKind(s string) (Kind, error) {
	for _, k := range kinds {
		if strings.EqualFold(s, string(k)) {
			return k, nil
		}
	}
	for _, e := range hfSuffix {
		if strings.Contains(s, e.suffix) {
			return e.kind, nil
		}
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("task %q unknown (want %s, or an HF class name such as BertForSequenceClassification)", s, strings.Join(names, ", "))
}

// ProblemType is HF's config.problem_type for sequence classification.
type ProblemType string

// The problem types.
const (
	Regression  ProblemType = "regression"
	SingleLabel ProblemType = "single_label_classification"
	MultiLabel  ProblemType = "multi_label_classification"
)

// IgnoreIndex is the label value every head skips (HF's -100).
const IgnoreIndex = loss.DefaultIgnoreIndex

// Spec describes a head and how to train it.
type Spec struct {
	// Kind is the head.
	Kind Kind
	// NumLabels is the classifier width for sequence and token
	// classification.
	NumLabels int
	// NumChoices is K for multiple choice.
	NumChoices int
	// ProblemType, if set, overrides inference (sequence classification).
	ProblemType ProblemType
	// Loss, if set, names a registered loss that replaces the head's
	// default (e.g. "focal" or a user's own); LossConfig gives its options.
	Loss string
	// LossConfig holds options for the loss: class weights and pos_weight
	// apply to the default losses too (HF has neither).
	LossConfig loss.Config
	// LabelSmoothing is the trainer-level ε (HF's label_smoothing_factor):
	// applied to cross-entropy heads, off for multi-label (as HF) and for
	// regression and question answering (with a note).
	LabelSmoothing float64
}

// Inputs holds one micro-batch's head outputs and labels.
type Inputs struct {
	// Logits: (B,T,V) for LMs, (B,T,C) token classification, (B,C)
	// sequence classification, (B·K,1), (B·K) or (B,K) multiple choice.
	Logits *tensor.Tensor
	// Labels: (B,T) int64 for LMs and token classification; (B) int64,
	// (B) or (B,1) float (regression) or (B,C) float (multi-label) for
	// sequence classification; (B) int64 for multiple choice.
	Labels *tensor.Tensor
	// ShiftLabels, for causal LMs, are labels already shifted (B,T) (e.g.
	// under sequence parallelism); Labels is then not used.
	ShiftLabels *tensor.Tensor
	// StartLogits, EndLogits (B,T) and StartPositions, EndPositions (B) or
	// (B,1) int64 are question answering's.
	StartLogits, EndLogits, StartPositions, EndPositions *tensor.Tensor
	// NumItemsInBatch > 0 makes the loss sum/NumItemsInBatch (see
	// CountItems); 0 means the mean over this batch.
	NumItemsInBatch int64
}

// Explanation records the decisions behind a loss.
type Explanation struct {
	Kind        Kind
	ProblemType ProblemType // sequence classification only
	Inferred    bool        // ProblemType was inferred, not given
	Reason      string      // why this problem type ("2 labels, integer labels")
	Loss        string      // registry name of the loss used
	Items       int64       // non-ignored labels in this batch
	Divisor     string      // "mean over 16 non-ignored labels", "sum / num_items_in_batch 64"
	Notes       []string    // conversions and choices made for the user
	Warnings    []string    // things that probably need the user's attention
}

// String renders the explanation on one line, then notes and warnings.
func (e Explanation) String() string {
	var b strings.Builder
	b.WriteString(string(e.Kind))
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	if e.ProblemType != "" {
		how := "given"
		if e.Inferred {
			how = "inferred"
		}
		fmt.Fprintf(&b, " -> %s (%s)", strings.ReplaceAll(string(e.ProblemType), "_", "-"), how)
	}
	fmt.Fprintf(&b, " -> %s, %s", e.Loss, e.Divisor)
	for _, n := range e.Notes {
		b.WriteString("\n  note: " + n)
	}
	for _, w := range e.Warnings {
		b.WriteString("\n  warning: " + w)
	}
	return b.String()
}

// Result is a computed loss and its explanation.
type Result struct {
	Loss        *tensor.Tensor
	Explanation Explanation
}
