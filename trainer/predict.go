package trainer

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/models/auto"
)

// Prediction is the model's answer for one example (or, for question
// answering, one question).
type Prediction struct {
	// Index is the example's position in the features (question answering:
	// the question's position in ID order).
	Index int `json:"index"`
	// ID is the question ID (question answering only).
	ID string `json:"id,omitempty"`
	// Label is the prediction in words: the class name, the label names of a
	// multi-label example joined by ",", the word tags joined by " ", or the
	// answer text. Empty for regression.
	Label string `json:"label"`
	// Value is the regression output.
	Value float64 `json:"value,omitempty"`
	// Logits are the head's scores for sequence-level heads (classes,
	// labels or choices); token-level scores are not kept.
	Logits []float32 `json:"logits,omitempty"`
}

// Predict runs the model over f and returns one prediction per example
// (HF's Trainer.predict with the logits reduced as its example scripts do)
// and, when f carries labels, the metrics with the "test_" prefix. Only the
// predictions are kept, never the token-level logits.
func (t *Trainer) Predict(f *data.Features) ([]Prediction, Entry, error) {
	if f == nil || len(f.Examples) == 0 {
		return nil, nil, fmt.Errorf("predict: no examples")
	}
	if f.Task == data.CausalLM || f.Task == data.MaskedLM {
		return nil, nil, fmt.Errorf("predict: language models have no per-example prediction; evaluate them (perplexity)")
	}
	if err := collateTask(t.Model.Kind(), f.Task); err != nil {
		return nil, nil, err
	}
	if t.console == nil {
		t.console = newConsole(t)
	}
	names := func(id int) string {
		if f.Labels != nil && id < f.Labels.Len() {
			return f.Labels.Name(id)
		}
		if n, ok := t.Model.Config().ID2Label[id]; ok {
			return n
		}
		return strconv.Itoa(id)
	}
	var preds []Prediction
	keep := func(idx []int, out auto.Output, in auto.Batch) {
		if f.Task == data.QuestionAnswering {
			return // answers come from the streamed spans
		}
		lg := out.Logits
		v := lg.Float32s()
		switch f.Task {
		case data.TokenClassification:
			T, C := lg.Dim(1), lg.Dim(2)
			var lab []int64
			if in.Labels != nil {
				lab = in.Labels.Int64s()
			}
			for r, k := range idx {
				var tags []string
				for tk := 0; tk < len(f.Examples[k].InputIDs) && tk < T; tk++ {
					// Words are the tokens that carry a label (first pieces);
					// without labels every token counts.
					if lab != nil && lab[r*T+tk] == data.IgnoreIndex {
						continue
					}
					row := v[(r*T+tk)*C : (r*T+tk+1)*C]
					tags = append(tags, names(argmaxF(row)))
				}
				preds = append(preds, Prediction{Index: k, Label: strings.Join(tags, " ")})
			}
		default:
			C := lg.Dim(lg.Rank() - 1)
			for r, k := range idx {
				row := append([]float32(nil), v[r*C:(r+1)*C]...)
				p := Prediction{Index: k, Logits: row}
				switch f.Task {
				case data.Regression:
					p.Value = float64(row[0])
				case data.MultiLabel:
					var on []string
					for c, x := range row {
						if x > 0 {
							on = append(on, names(c))
						}
					}
					p.Label = strings.Join(on, ",")
				case data.MultipleChoice:
					p.Label = strconv.Itoa(argmaxF(row))
				default:
					p.Label = names(argmaxF(row))
				}
				preds = append(preds, p)
			}
		}
	}
	m, err := t.evaluate(f, "test", keep)
	if err != nil {
		return nil, nil, err
	}
	if t.worldSize() > 1 {
		if preds, err = gatherJSON(t, preds); err != nil {
			return nil, nil, err
		}
	}
	if f.Task == data.QuestionAnswering {
		mb := t.lastQA.batch(f)
		ids := make([]string, 0, len(f.Questions))
		for id := range f.Questions {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for i, id := range ids {
			preds = append(preds, Prediction{Index: i, ID: id, Label: mb.PredTexts[i]})
		}
	}
	sort.Slice(preds, func(i, j int) bool { return preds[i].Index < preds[j].Index })
	return preds, m, nil
}

func argmaxF(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// WritePredictions writes HF's predict_results file: a header line
// "index\tprediction" and one line per prediction (regression as %3.3f, as
// run_glue.py writes it; question answering adds the question ID).
func WritePredictions(path string, preds []Prediction, regression bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	qa := len(preds) > 0 && preds[0].ID != ""
	if qa {
		fmt.Fprintln(w, "index\tid\tprediction")
	} else {
		fmt.Fprintln(w, "index\tprediction")
	}
	for _, p := range preds {
		switch {
		case qa:
			fmt.Fprintf(w, "%d\t%s\t%s\n", p.Index, p.ID, p.Label)
		case regression:
			fmt.Fprintf(w, "%d\t%3.3f\n", p.Index, p.Value)
		default:
			fmt.Fprintf(w, "%d\t%s\n", p.Index, p.Label)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
