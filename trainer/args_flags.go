package trainer

import (
	"flag"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/optim"
)

// ArgDoc documents one argument: the configuration reference in the README
// and the flags' usage text are both made from ArgDocs.
type ArgDoc struct {
	Key     string // HF's name: the JSON/YAML key and the flag (--learning_rate)
	Type    string // string, bool, int, float, string list, float list, name=float map
	Default string // DefaultArgs' value as a flag would take it, or a description
	Help    string // one line
}

// argHelp is the documentation table, in Args' field order. def, when set,
// replaces the default computed from DefaultArgs (for values that depend on
// other arguments). Every field of Args must appear exactly once (a test
// checks it).
var argHelp = []struct{ key, def, help string }{
	{"output_dir", "", "directory for checkpoints, logs, plots and the final model"},
	{"overwrite_output_dir", "", "train into a non-empty output_dir that holds no checkpoint to resume from"},
	{"num_train_epochs", "", "passes over the training data (fractions allowed); max_steps > 0 overrides it"},
	{"max_steps", "", "total optimizer steps; -1 trains for num_train_epochs instead"},
	{"per_device_train_batch_size", "", "examples per training micro-batch"},
	{"per_device_eval_batch_size", "", "examples per evaluation batch"},
	{"gradient_accumulation_steps", "", "micro-batches per optimizer step (the effective batch is their product with the batch size)"},
	{"optim", "", "optimizer: adamw (torch's AdamW, HF's adamw_torch) or sgd"},
	{"learning_rate", "", "peak learning rate (reached after warmup)"},
	{"weight_decay", "", "decoupled weight decay of AdamW; 0 turns it off"},
	{"adam_beta1", "", "AdamW's beta1, in [0, 1)"},
	{"adam_beta2", "", "AdamW's beta2, in [0, 1)"},
	{"adam_epsilon", "", "AdamW's epsilon, > 0"},
	{"max_grad_norm", "", "clip the global gradient norm to this; 0 turns clipping off"},
	{"lr_scheduler_type", "", "learning-rate schedule: " + strings.Join(optim.ScheduleNames, ", ")},
	{"warmup_ratio", "", "fraction of the training steps spent warming up from 0, in [0, 1]; used when warmup_steps is 0"},
	{"warmup_steps", "", "steps of linear warmup from 0; overrides warmup_ratio when > 0"},
	{"logging_steps", "", "optimizer steps between log entries (whole steps; HF's fractional ratios are not supported)"},
	{"logging_first_step", "", "also log after the first optimizer step"},
	{"eval_strategy", "", "when to evaluate: no, steps (every eval_steps) or epoch; old name evaluation_strategy"},
	{"eval_steps", "", "optimizer steps between evaluations with eval_strategy steps; 0 means logging_steps"},
	{"save_strategy", "", "when to save a checkpoint: no, steps (every save_steps) or epoch"},
	{"save_steps", "", "optimizer steps between checkpoints with save_strategy steps"},
	{"save_total_limit", "", "keep the newest N checkpoints plus the best one (never deleted), so at most N+1; 0 keeps all"},
	{"load_best_model_at_end", "", "load the best checkpoint at the end; needs save_strategy = eval_strategy (and save_steps a multiple of eval_steps)"},
	{"metric_for_best_model", "loss", "evaluation metric that picks the best checkpoint, with or without the eval_ prefix"},
	{"greater_is_better", "by metric", "whether a larger metric_for_best_model is better; unset: false for metrics ending in loss, true otherwise"},
	{"seed", "", "seeds model initialisation, dropout and (without data_seed) the data order"},
	{"data_seed", "seed", "seeds the data order alone"},
	{"label_smoothing_factor", "", "label smoothing of cross-entropy, in [0, 1)"},
	{"label_names", "", "batch fields holding labels: labels, start_positions, end_positions (kiln names them itself)"},
	{"dataloader_drop_last", "", "drop the last incomplete training batch of each epoch"},
	{"group_by_length", "", "batch examples of similar length together (less padding)"},
	{"resume_from_checkpoint", "", "checkpoint directory to resume training from, or last (the newest checkpoint-N in output_dir)"},
	{"ignore_data_skip", "", "when resuming, restart the interrupted epoch from its first batch"},
	{"report_to", "none", "integrations: none, tensorboard, or all (= tensorboard); nothing leaves the machine"},
	{"logging_dir", "output_dir/runs", "directory for TensorBoard event files"},
	{"disable_tqdm", "", "no progress bar: print plain log lines"},
	{"loss", "", "registered loss replacing the task's default (e.g. focal, hinge)"},
	{"loss_params", "", "numeric options of the loss, e.g. gamma=2,alpha=0.25"},
	{"class_weights", "", "one weight per class (cross-entropy, BCE, focal), each >= 0"},
	{"pos_weight", "", "BCE's weight of positive examples, one per label, each >= 0"},
	{"early_stopping_patience", "", "stop after this many evaluations without improvement (turns best-model tracking on; needs eval_strategy); 0: off"},
	{"early_stopping_threshold", "", "smallest improvement of the best-model metric that counts"},
	{"max_non_finite", "", "stop with an error after this many non-finite losses or gradient norms in a row (each is skipped)"},
	{"mlm_probability", "", "masked LM: share of the tokens chosen for prediction (80% become the mask token, 10% a random token, 10% stay), in (0, 1)"},
	{"prediction_loss_only", "", "evaluate the loss only, no metrics"},
	{"save_final_model", "true", "write the final model to output_dir at the end"},
}

// ArgDocs documents every argument, in Args' field order.
func ArgDocs() []ArgDoc {
	d := reflect.ValueOf(DefaultArgs())
	docs := make([]ArgDoc, 0, len(argHelp))
	for _, h := range argHelp {
		doc := ArgDoc{Key: h.key, Default: h.def, Help: h.help}
		if f, ok := argFieldByKey(h.key); ok {
			doc.Type = argTypeWord(f.typ)
			if doc.Default == "" {
				doc.Default = formatArgFlag(d.Field(f.index))
			}
		}
		docs = append(docs, doc)
	}
	return docs
}

// ArgFlags holds the argument flags BindFlags registered on a FlagSet.
type ArgFlags struct {
	fs      *flag.FlagSet
	staged  Args                // values of the flags given, by field
	byName  map[string]argField // flag name (any form) → field
	aliases map[string]string   // flag name → the alias it spells (evaluation_strategy)
	dashed  map[string]string   // dash form → underscore form, for PrintDefaults
}

// BindFlags registers every argument on fs as a flag named by its key
// (--learning_rate), also accepted with dashes (--learning-rate), plus the
// old name --evaluation_strategy. The caller may register its own flags
// (--model, --config, ...) on the same FlagSet, under other names. Flag
// syntax:
//
//	--learning_rate 3e-5            numbers and strings
//	--load_best_model_at_end        bools; also =true / =false
//	--greater_is_better=false       optional values are set when given
//	--report_to tensorboard         lists: comma-separated (--label_names labels,start_positions)
//	--loss_params gamma=2,alpha=0.25
//
// A flag given twice keeps the last value. After fs.Parse, Apply sets the
// given flags on an Args, so that defaults < configuration file < flags.
// As with any flag.FlagSet, registering a name twice panics: the caller's
// own flags must not reuse an argument's name in either form.
func BindFlags(fs *flag.FlagSet) *ArgFlags {
	f := &ArgFlags{
		fs:      fs,
		staged:  DefaultArgs(),
		byName:  map[string]argField{},
		aliases: map[string]string{},
		dashed:  map[string]string{},
	}
	docs := map[string]ArgDoc{}
	for _, d := range ArgDocs() {
		docs[d.Key] = d
	}
	register := func(name string, fld argField, usage string) {
		f.byName[name] = fld
		fs.Var(&argValue{f: f, fld: fld}, name, usage)
		if dash := strings.ReplaceAll(name, "_", "-"); dash != name {
			f.byName[dash] = fld
			f.dashed[dash] = name
			fs.Var(&argValue{f: f, fld: fld}, dash, "same as --"+name)
		}
	}
	for _, fld := range argFieldList() {
		d, ok := docs[fld.key]
		if !ok {
			continue // undocumented: the test in args_test.go fails
		}
		usage := d.Help
		if d.Default != "" && d.Default != formatArgFlag(reflect.ValueOf(f.staged).Field(fld.index)) {
			usage += " (default " + d.Default + ")"
		}
		register(fld.key, fld, usage)
	}
	for _, old := range argSortedKeys(argAliases) {
		fld, _ := argFieldByKey(argAliases[old])
		register(old, fld, "old name of --"+fld.key)
		f.aliases[old] = old
		f.aliases[strings.ReplaceAll(old, "_", "-")] = old
	}
	return f
}

// Apply sets on a the arguments whose flags were given on the command line
// (found with FlagSet.Visit), leaving the others as they are. It returns
// warnings for old names (--evaluation_strategy), and an error when a flag
// and its old name are both given.
func (f *ArgFlags) Apply(a *Args) ([]string, error) {
	given := map[string]string{} // key → the flag name that set it
	var warnings []string
	var conflict error
	f.fs.Visit(func(fl *flag.Flag) {
		fld, ok := f.byName[fl.Name]
		if !ok {
			return
		}
		if old, ok := f.aliases[fl.Name]; ok {
			warnings = append(warnings, fmt.Sprintf("--%s is the old name of --%s (Hugging Face renamed it); it still works, but write --%s", old, fld.key, fld.key))
		}
		if prev, ok := given[fld.key]; ok && f.aliases[prev] != f.aliases[fl.Name] && conflict == nil {
			conflict = fmt.Errorf("--%s and --%s are the same argument; give only --%s", prev, fl.Name, fld.key)
		}
		given[fld.key] = fl.Name
	})
	if conflict != nil {
		return warnings, conflict
	}
	dst := reflect.ValueOf(a).Elem()
	src := reflect.ValueOf(&f.staged).Elem()
	for _, fld := range argFieldList() {
		if _, ok := given[fld.key]; ok {
			dst.Field(fld.index).Set(cloneArgValue(src.Field(fld.index)))
		}
	}
	return warnings, nil
}

// PrintDefaults writes the usage of every flag on the FlagSet (the caller's
// too) to w, as flag.PrintDefaults does but with -- and without the dash
// forms, which are mentioned once at the top. Set it as the FlagSet's Usage.
func (f *ArgFlags) PrintDefaults(w io.Writer) {
	fmt.Fprintln(w, "Flags (each --name_with_underscores also works as --name-with-dashes):")
	f.fs.VisitAll(func(fl *flag.Flag) {
		if _, ok := f.dashed[fl.Name]; ok {
			return
		}
		typ, usage := flag.UnquoteUsage(fl)
		if fld, ok := f.byName[fl.Name]; ok {
			typ = argTypeWord(fld.typ)
			if typ == "bool" {
				typ = ""
			}
		}
		line := "  --" + fl.Name
		if typ != "" {
			line += " " + typ
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" {
			fmt.Fprintf(w, " (default %s)", fl.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// argValue is the flag.Value of one argument: Set parses into the staged
// Args, which Apply copies from.
type argValue struct {
	f   *ArgFlags
	fld argField
}

func (v *argValue) field() reflect.Value {
	return reflect.ValueOf(&v.f.staged).Elem().Field(v.fld.index)
}

func (v *argValue) String() string {
	if v == nil || v.f == nil { // flag's zero-value probe
		return ""
	}
	return formatArgFlag(v.field())
}

func (v *argValue) Set(s string) error {
	x, err := parseArgFlag(v.fld.typ, s)
	if err != nil {
		return err
	}
	v.field().Set(x)
	return nil
}

// IsBoolFlag lets bool arguments (and optional bools) be given as a bare
// --name.
func (v *argValue) IsBoolFlag() bool {
	t := v.fld.typ
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Bool
}

// parseArgFlag parses a flag's text as a value of type t.
func parseArgFlag(t reflect.Type, s string) (reflect.Value, error) {
	switch t.Kind() {
	case reflect.Pointer:
		e, err := parseArgFlag(t.Elem(), s)
		if err != nil {
			return e, err
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(e)
		return p, nil
	case reflect.Slice:
		out := reflect.MakeSlice(t, 0, 0)
		for _, part := range splitArgList(s) {
			e, err := parseArgFlag(t.Elem(), part)
			if err != nil {
				return e, err
			}
			out = reflect.Append(out, e)
		}
		return out, nil
	case reflect.Map:
		out := reflect.MakeMap(t)
		for _, part := range splitArgList(s) {
			k, val, ok := strings.Cut(part, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return reflect.Value{}, fmt.Errorf("%q is not name=value (e.g. gamma=2,alpha=0.25)", part)
			}
			if out.MapIndex(reflect.ValueOf(k)).IsValid() {
				return reflect.Value{}, fmt.Errorf("%s is given twice", k)
			}
			e, err := parseArgFlag(t.Elem(), strings.TrimSpace(val))
			if err != nil {
				return e, err
			}
			out.SetMapIndex(reflect.ValueOf(k), e)
		}
		return out, nil
	case reflect.String:
		return reflect.ValueOf(s).Convert(t), nil
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("%q is not true or false", s)
		}
		return reflect.ValueOf(b).Convert(t), nil
	case reflect.Int, reflect.Int64:
		r := reflect.New(t).Elem()
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			// Whole numbers written as floats (1e4) are fine.
			f, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<63 {
				return reflect.Value{}, fmt.Errorf("%q is not a whole number", s)
			}
			i = int64(f)
		}
		if r.OverflowInt(i) {
			return reflect.Value{}, fmt.Errorf("%q is too large", s)
		}
		r.SetInt(i)
		return r, nil
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("%q is not a number", s)
		}
		return reflect.ValueOf(f), nil
	}
	return reflect.Value{}, fmt.Errorf("internal error: unsupported argument type %v", t)
}

// splitArgList splits a comma-separated flag value, trimming spaces and
// dropping empty entries ("" is an empty list).
func splitArgList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// formatArgFlag writes a value as its flag would take it; unset optional values
// and empty lists are "".
func formatArgFlag(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return ""
		}
		return formatArgFlag(v.Elem())
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = formatArgFlag(v.Index(i))
		}
		return strings.Join(parts, ",")
	case reflect.Map:
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + formatArgFlag(v.MapIndex(reflect.ValueOf(k)))
		}
		return strings.Join(parts, ",")
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return fmt.Sprint(v.Interface())
}

// cloneArgValue copies pointers, slices and maps so that Args values from
// Apply share nothing with the flags.
func cloneArgValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(v.Elem())
		return p
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(s, v)
		return s
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		m := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			m.SetMapIndex(iter.Key(), iter.Value())
		}
		return m
	}
	return v
}

// ArgsMarkdown is the configuration reference as a Markdown table (the
// README's, checked by a test so that it cannot drift from the code).
func ArgsMarkdown() string {
	var b strings.Builder
	b.WriteString("| argument | type | default | meaning |\n|---|---|---|---|\n")
	for _, d := range ArgDocs() {
		def := d.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", d.Key, d.Type, def, strings.ReplaceAll(d.Help, "|", `\|`))
	}
	return b.String()
}
