package trainer

import (
	"fmt"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/models/auto"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// Tensors turns a collated batch into model inputs. The labels are set in
// the returned batch when the data carries them; the trainer takes them out
// again before the forward pass and computes the loss itself, so that
// num_items_in_batch and custom losses apply.
func Tensors(b *data.Batch) auto.Batch {
	in := auto.Batch{
		InputIDs:      tensor.FromInt64(b.InputIDs, b.InputShape...),
		AttentionMask: tensor.FromInt64(b.AttentionMask, b.InputShape...),
	}
	if b.TokenTypeIDs != nil {
		in.TokenTypeIDs = tensor.FromInt64(b.TokenTypeIDs, b.InputShape...)
	}
	switch {
	case b.FloatLabels != nil:
		in.Labels = tensor.FromFloat32(b.FloatLabels, b.FloatLabelShape...)
	case b.Labels != nil:
		in.Labels = tensor.FromInt64(b.Labels, b.LabelShape...)
	}
	if b.StartPositions != nil {
		n := len(b.StartPositions)
		in.StartPositions = tensor.FromInt64(b.StartPositions, n)
		in.EndPositions = tensor.FromInt64(b.EndPositions, n)
	}
	return in
}

// hasLabels says whether a model batch carries the labels its head needs.
func hasLabels(in auto.Batch) bool { return in.Labels != nil || in.StartPositions != nil }

// lossInputs are the head outputs and labels for task.Compute.
func lossInputs(out auto.Output, in auto.Batch, numItems int64) task.Inputs {
	return task.Inputs{Logits: out.Logits, Labels: in.Labels,
		StartLogits: out.StartLogits, EndLogits: out.EndLogits,
		StartPositions: in.StartPositions, EndPositions: in.EndPositions,
		NumItemsInBatch: numItems}
}

// countItems counts the labels the loss of this micro-batch sums over
// (task.CountItems), before the forward pass.
func countItems(spec task.Spec, in auto.Batch) (int64, error) {
	ti := task.Inputs{Labels: in.Labels, StartPositions: in.StartPositions, EndPositions: in.EndPositions}
	if spec.Kind == task.QuestionAnswering {
		// Only the sequence length of the logits is read.
		ti.StartLogits = tensor.Zeros(tensor.Float32, in.InputIDs.Shape()...)
	}
	return task.CountItems(spec, ti)
}

// collateTask maps a model head and the data's task to the collator's
// recipe, checking that they fit together.
func collateTask(kind task.Kind, t data.Task) error {
	ok := false
	switch kind {
	case task.SequenceClassification:
		ok = t == data.Classification || t == data.Regression || t == data.MultiLabel
	case task.TokenClassification:
		ok = t == data.TokenClassification
	case task.QuestionAnswering:
		ok = t == data.QuestionAnswering
	case task.MultipleChoice:
		ok = t == data.MultipleChoice
	case task.CausalLM:
		ok = t == data.CausalLM
	case task.MaskedLM:
		ok = t == data.MaskedLM
	}
	if !ok {
		return fmt.Errorf("the model's head is %s but the data was prepared for %s", kind, t)
	}
	return nil
}
