package data_test

import (
	"fmt"
	"log"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/tokenizer"
)

// Example reads the shipped fine-food reviews, maps their labels to ids and
// collates the first shuffled batch with dynamic padding.
func Example() {
	tok, err := tokenizer.Load("../tokenizer/testdata/bert-base-uncased")
	if err != nil {
		log.Fatal(err)
	}
	train, err := data.ReadFile("../datasets/fine_foods_train.csv", data.Options{
		Rename:   map[string]string{"review": "text", "score": "label"},
		Text:     []string{"text"},
		Required: []string{"label"},
	})
	if err != nil {
		log.Fatal(err)
	}
	labels, err := data.InferLabels(train.Rows, "label", "")
	if err != nil {
		log.Fatal(err)
	}
	feats, err := data.Preprocess(data.Config{Task: data.Classification, Tokenizer: tok, Labels: labels, MaxLength: 64}, train.Rows[:100])
	if err != nil {
		log.Fatal(err)
	}
	loader := &data.Loader{
		Examples: feats.Examples,
		Sampler:  data.Sampler{BatchSize: 4, Shuffle: true, Seed: 42},
		Collator: data.Collator{Task: data.Classification, PadID: data.PadID(tok)},
	}
	for batch, err := range loader.Epoch(0, 0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("rows:", train.Len(), "id2label:", labels.ID2Label())
		fmt.Println("examples:", batch.Indices, "input shape:", batch.InputShape, "labels:", batch.Labels)
		break
	}
	// Output:
	// rows: 4000 id2label: map[0:great 1:other]
	// examples: [0 99 39 26] input shape: [4 64] labels: [1 0 1 0]
}
