package checkpoint_test

import (
	"fmt"
	"os"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/tensor"
)

// A base-model checkpoint (keys without "bert.") loads into a model with a
// classification head; the head is reported as newly initialised.
func Example() {
	dir, _ := os.MkdirTemp("", "ckpt")
	defer os.RemoveAll(dir)

	base := checkpoint.StateDict{
		"embeddings.word_embeddings.weight": tensor.FromFloat32([]float32{1, 2, 3, 4}, 2, 2),
	}
	if _, err := checkpoint.Save(dir, base, checkpoint.SaveOptions{}); err != nil {
		panic(err)
	}

	params := map[string]*tensor.Tensor{ // the model's own parameters
		"bert.embeddings.word_embeddings.weight": tensor.Zeros(tensor.Float32, 2, 2),
		"classifier.weight":                      tensor.Zeros(tensor.Float32, 3, 2),
		"classifier.bias":                        tensor.Zeros(tensor.Float32, 3),
	}
	sd, err := checkpoint.Load(dir)
	if err != nil {
		panic(err)
	}
	report, err := checkpoint.LoadInto(params, sd, checkpoint.LoadOptions{BasePrefix: "bert"})
	if err != nil {
		panic(err)
	}
	fmt.Print(report)
	fmt.Println(params["bert.embeddings.word_embeddings.weight"].F32())
	// Output:
	// Some weights of the model were not initialized from the model checkpoint and are newly initialized: ['classifier.bias', 'classifier.weight']
	// [1 2 3 4]
}
