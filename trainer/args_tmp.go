package trainer

// Temporary until the args branch lands.

import (
	"encoding/json"
	"os"
	"strings"
)

func (a Args) Validate() error { return nil }
func (a Args) EffectiveEvalSteps() int {
	if a.EvalSteps > 0 {
		return a.EvalSteps
	}
	return a.LoggingSteps
}
func (a Args) BestMetricKey() string {
	m := a.MetricForBestModel
	if m == "" {
		m = "loss"
	}
	if !strings.HasPrefix(m, "eval_") {
		m = "eval_" + m
	}
	return m
}
func (a Args) GreaterBetter() bool {
	if a.GreaterIsBetter != nil {
		return *a.GreaterIsBetter
	}
	return !strings.HasSuffix(a.BestMetricKey(), "loss")
}
func (a Args) TracksBest() bool {
	return a.LoadBestModelAtEnd || a.EarlyStoppingPatience > 0 || a.MetricForBestModel != ""
}
func (a Args) DataSeedValue() int64 {
	if a.DataSeed != nil {
		return *a.DataSeed
	}
	return a.Seed
}
func (a Args) SaveFinal() bool { return a.SaveFinalModel == nil || *a.SaveFinalModel }
func (a Args) SaveJSON(path string) error {
	b, _ := json.MarshalIndent(a, "", "  ")
	return os.WriteFile(path, b, 0o644)
}
