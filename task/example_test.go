package task_test

import (
	"fmt"

	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// A sequence-classification head with 2 labels and integer labels resolves
// to single-label classification and cross-entropy; the explanation says so.
func ExampleCompute() {
	logits := tensor.FromFloat32([]float32{2, -1, 0.5, 0.5, -1, 3, 0, 0}, 4, 2)
	labels := tensor.FromInt64([]int64{0, 1, 1, -100}, 4)
	res, err := task.Compute(task.Spec{Kind: task.SequenceClassification, NumLabels: 2},
		task.Inputs{Logits: logits, Labels: labels})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Explanation)
	fmt.Printf("loss %.4f\n", res.Loss.Item())

	// Float labels with 2 outputs: HF silently trains multi-label BCE; kiln
	// does the same but says so.
	soft := tensor.FromFloat32([]float32{1, 0, 0, 1, 0, 1, 1, 1}, 4, 2)
	res, _ = task.Compute(task.Spec{Kind: task.SequenceClassification, NumLabels: 2},
		task.Inputs{Logits: logits, Labels: soft})
	fmt.Println(res.Explanation)
	// Output:
	// sequence_classification: 2 labels, integer labels -> single-label-classification (inferred) -> cross_entropy, mean over 3 non-ignored labels
	// loss 0.2533
	// sequence_classification: 2 labels, float32 labels -> multi-label-classification (inferred) -> bce_with_logits, mean over 8 label values
	//   note: float labels made this task multi-label (HF does the same); set problem_type regression for multi-target regression
}

// With gradient accumulation the trainer counts the labels of the whole
// group once and passes the count with every micro-batch.
func ExampleCountGroup() {
	spec := task.Spec{Kind: task.CausalLM}
	micro := []task.Inputs{
		{Labels: tensor.FromInt64([]int64{-100, -100, 5, 6, 7}, 1, 5)},
		{Labels: tensor.FromInt64([]int64{1, 2, 3, -100, -100}, 1, 5)},
	}
	n, _ := task.CountGroup(spec, micro)
	fmt.Println("num_items_in_batch:", n)
	// Output:
	// num_items_in_batch: 5
}
