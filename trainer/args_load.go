package trainer

// Reading and writing Args as JSON or YAML files.
//
// Both formats go through one path: a YAML file is parsed into a yaml.Node
// tree, a JSON file is tokenised with encoding/json and turned into the same
// kind of tree (with line numbers computed from byte offsets), and one walker
// sets the fields. So the two formats accept the same values and give the
// same errors, and every error can name the file, the line and the key.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// argAliases maps old argument names that are still accepted (with a
// warning) to their current names. Hugging Face renamed evaluation_strategy
// to eval_strategy in transformers 4.41, which broke many notebooks; both
// spellings work here, but not together.
var argAliases = map[string]string{
	"evaluation_strategy": "eval_strategy",
}

// argField is one field of Args as the loader and the flags see it.
type argField struct {
	key   string       // the json/yaml key: HF's name
	index int          // field index in Args
	typ   reflect.Type // the Go type of the field
}

// argFieldList lists Args' fields in declaration order, found by reflection
// so that a new field is loadable and settable without further code.
var argFieldList = sync.OnceValue(func() []argField {
	t := reflect.TypeFor[Args]()
	var fs []argField
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if key == "" || key == "-" || !f.IsExported() {
			continue
		}
		fs = append(fs, argField{key: key, index: i, typ: f.Type})
	}
	return fs
})

// argFieldByKey finds a field by its key (not by an alias).
func argFieldByKey(key string) (argField, bool) {
	for _, f := range argFieldList() {
		if f.key == key {
			return f, true
		}
	}
	return argField{}, false
}

// LoadArgs reads a configuration file over DefaultArgs and returns the
// result, with any warnings (one line each, naming file and line) the caller
// should show the user. The format follows the extension: .json, or .yaml /
// .yml. The file holds one mapping from argument names (Hugging Face's
// TrainingArguments names, see ArgDocs) to values; keys it leaves out keep
// their defaults, and a null value also keeps the default (so configurations
// written by HF, full of nulls, load).
//
// Every problem is reported, joined into one error, each as
// "file:line: key: what is wrong": unknown keys (with the nearest known key
// suggested), values of the wrong type, a key given twice. The old name
// evaluation_strategy is accepted with a warning; giving it together with
// eval_strategy is an error.
//
// LoadArgs does not check values against each other: apply the command-line
// flags (ArgFlags.Apply), then call Validate.
func LoadArgs(path string) (Args, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return DefaultArgs(), nil, fmt.Errorf("reading training arguments: %w", err)
	}
	return decodeArgs(path, data)
}

// decodeArgs is LoadArgs on data already read; name gives the format (by
// its extension) and prefixes the messages.
func decodeArgs(name string, data []byte) (Args, []string, error) {
	a := DefaultArgs()
	var root *yaml.Node
	var err error
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		root, err = parseJSONTree(name, data)
	case ".yaml", ".yml":
		root, err = parseYAMLTree(name, data)
	default:
		return a, nil, fmt.Errorf("%s: training arguments must be a .json, .yaml or .yml file", name)
	}
	if err != nil {
		return a, nil, err
	}
	if root == nil { // an empty YAML file: all defaults
		return a, nil, nil
	}
	root = yamlDeref(root)
	if root.Kind != yaml.MappingNode {
		return a, nil, fmt.Errorf("%s:%d: the file must hold a mapping of argument names to values, not %s", name, root.Line, describeYAMLNode(root))
	}

	type seenKey struct {
		name string // as written: the key or its alias
		line int
	}
	seen := map[string]seenKey{}
	var warnings []string
	var errs []error
	v := reflect.ValueOf(&a).Elem()
	for i := 0; i+1 < len(root.Content); i += 2 {
		kn, vn := yamlDeref(root.Content[i]), yamlDeref(root.Content[i+1])
		if kn.Kind != yaml.ScalarNode || kn.ShortTag() == "!!null" {
			errs = append(errs, fmt.Errorf("%s:%d: argument names must be strings, not %s", name, kn.Line, describeYAMLNode(kn)))
			continue
		}
		key := kn.Value
		canon := key
		if to, ok := argAliases[key]; ok {
			canon = to
			warnings = append(warnings, fmt.Sprintf("%s:%d: %s is the old name of %s (Hugging Face renamed it); it still works, but write %s", name, kn.Line, key, to, to))
		}
		f, ok := argFieldByKey(canon)
		if !ok {
			msg := fmt.Sprintf("%s:%d: unknown argument %q", name, kn.Line, key)
			if s := suggestArgKey(key); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			errs = append(errs, errors.New(msg))
			continue
		}
		if prev, dup := seen[canon]; dup {
			if prev.name == key {
				errs = append(errs, fmt.Errorf("%s:%d: %s is given twice (lines %d and %d); keep one", name, kn.Line, key, prev.line, kn.Line))
			} else {
				errs = append(errs, fmt.Errorf("%s:%d: %s (line %d) and %s (line %d) are the same argument; keep only %s", name, kn.Line, prev.name, prev.line, key, kn.Line, canon))
			}
			continue
		}
		seen[canon] = seenKey{key, kn.Line}
		if line, err := setArgFromNode(v.Field(f.index), vn); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %s: %v", name, line, key, err))
		}
	}
	return a, warnings, errors.Join(errs...)
}

// parseYAMLTree parses one YAML document; nil means an empty file.
func parseYAMLTree(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		// yaml's messages read "yaml: line 3: ..."; name the file instead.
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			if num, text, ok := strings.Cut(rest, ": "); ok {
				if _, err := strconv.Atoi(num); err == nil {
					return nil, fmt.Errorf("%s:%s: invalid YAML: %s", name, num, text)
				}
			}
		}
		return nil, fmt.Errorf("%s: invalid YAML: %s", name, msg)
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		return nil, fmt.Errorf("%s: holds more than one YAML document (---); keep one", name)
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

// parseJSONTree parses a JSON document into a yaml.Node tree with the same
// tags a YAML parser would give (!!str, !!int, !!float, !!bool, !!null) and
// the line and column of each value.
func parseJSONTree(name string, data []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// position gives the line and column where the next token starts: the
	// decoder's offset is the end of the previous token, and separators and
	// white space lie between.
	position := func() (line, col int) {
		off := int(dec.InputOffset())
		for off < len(data) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
			off++
		}
		return jsonLineCol(data, off)
	}
	var parse func() (*yaml.Node, error)
	parse = func() (*yaml.Node, error) {
		line, col := position()
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		n := &yaml.Node{Line: line, Column: col}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' {
				n.Kind, n.Tag = yaml.MappingNode, "!!map"
				for dec.More() {
					kl, kc := position()
					ktok, err := dec.Token()
					if err != nil {
						return nil, err
					}
					k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: ktok.(string), Line: kl, Column: kc}
					val, err := parse()
					if err != nil {
						return nil, err
					}
					n.Content = append(n.Content, k, val)
				}
			} else {
				n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
				for dec.More() {
					val, err := parse()
					if err != nil {
						return nil, err
					}
					n.Content = append(n.Content, val)
				}
			}
			if _, err := dec.Token(); err != nil { // the closing delimiter
				return nil, err
			}
		case string:
			n.Kind, n.Tag, n.Style, n.Value = yaml.ScalarNode, "!!str", yaml.DoubleQuotedStyle, t
		case json.Number:
			n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!float", string(t)
			if _, err := strconv.ParseInt(string(t), 10, 64); err == nil {
				n.Tag = "!!int"
			}
		case bool:
			n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!bool", strconv.FormatBool(t)
		case nil:
			n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!null", "null"
		}
		return n, nil
	}
	root, err := parse()
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			line, _ := position()
			return nil, fmt.Errorf("%s:%d: unexpected data after the top-level JSON value", name, line)
		}
		return root, nil
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := jsonLineCol(data, int(syn.Offset))
		return nil, fmt.Errorf("%s:%d:%d: invalid JSON: %v", name, line, col, syn)
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("%s: invalid JSON: unexpected end of file", name)
	}
	line, _ := position()
	return nil, fmt.Errorf("%s:%d: invalid JSON: %v", name, line, err)
}

// jsonLineCol turns a byte offset into a 1-based line and column.
func jsonLineCol(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	return line, off - bytes.LastIndexByte(data[:off], '\n')
}

// yamlDeref follows YAML aliases (*name) to the anchored node.
func yamlDeref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// describeYAMLNode shows a value in an error message: scalars as written
// (strings quoted) followed by their kind, collections by their kind.
func describeYAMLNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!timestamp":
			return strconv.Quote(n.Value) + " (a string)"
		case "!!int", "!!float":
			return n.Value + " (a number)"
		case "!!bool":
			return n.Value + " (a boolean)"
		case "!!null":
			return "null"
		}
		return n.Value
	}
	return "an empty value"
}

// argNodeError is a value error at a line (a list element may sit on another
// line than its key).
type argNodeError struct {
	line int
	msg  string
}

func (e *argNodeError) Error() string { return e.msg }

// setArgFromNode sets the field v from the node. A null keeps the default.
// On error it returns the line to blame and a message naming the value.
func setArgFromNode(v reflect.Value, n *yaml.Node) (int, error) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return n.Line, nil
	}
	nv, err := argNodeValue(v.Type(), n)
	if err != nil {
		var ne *argNodeError
		if errors.As(err, &ne) {
			return ne.line, err
		}
		return n.Line, err
	}
	v.Set(nv)
	return n.Line, nil
}

// argNodeValue converts a node to a value of type t (one of the types Args'
// fields use).
func argNodeValue(t reflect.Type, n *yaml.Node) (reflect.Value, error) {
	n = yamlDeref(n)
	fail := func(want string) (reflect.Value, error) {
		return reflect.Value{}, &argNodeError{n.Line, fmt.Sprintf("cannot use %s: want %s", describeYAMLNode(n), want)}
	}
	switch t.Kind() {
	case reflect.Pointer:
		e, err := argNodeValue(t.Elem(), n)
		if err != nil {
			return e, err
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(e)
		return p, nil
	case reflect.Slice:
		s := reflect.MakeSlice(t, 0, len(n.Content))
		if n.Kind == yaml.ScalarNode && t.Elem().Kind() == reflect.String && n.ShortTag() == "!!str" {
			// A single string stands for a one-entry list, as HF's
			// report_to: "tensorboard".
			return reflect.Append(s, reflect.ValueOf(n.Value)), nil
		}
		if n.Kind != yaml.SequenceNode {
			if t.Elem().Kind() == reflect.String {
				return fail("a string or a list of strings")
			}
			return fail("a list of " + argTypeWord(t.Elem()) + "s")
		}
		for _, c := range n.Content {
			e, err := argNodeValue(t.Elem(), c)
			if err != nil {
				return e, err
			}
			s = reflect.Append(s, e)
		}
		return s, nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return fail("a mapping of names to numbers, e.g. {gamma: 2, alpha: 0.25}")
		}
		m := reflect.MakeMapWithSize(t, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn := yamlDeref(n.Content[i])
			if kn.Kind != yaml.ScalarNode || kn.ShortTag() != "!!str" {
				return reflect.Value{}, &argNodeError{kn.Line, fmt.Sprintf("cannot use %s as a name: want a string", describeYAMLNode(kn))}
			}
			if m.MapIndex(reflect.ValueOf(kn.Value)).IsValid() {
				return reflect.Value{}, &argNodeError{kn.Line, fmt.Sprintf("%s is given twice", kn.Value)}
			}
			e, err := argNodeValue(t.Elem(), n.Content[i+1])
			if err != nil {
				return e, err
			}
			m.SetMapIndex(reflect.ValueOf(kn.Value), e)
		}
		return m, nil
	}

	if n.Kind != yaml.ScalarNode {
		return fail(argWantWord(t))
	}
	tag := n.ShortTag()
	switch t.Kind() {
	case reflect.String:
		if tag != "!!str" && tag != "!!timestamp" {
			return fail("a string (put it in quotes)")
		}
		return reflect.ValueOf(n.Value).Convert(t), nil
	case reflect.Bool:
		if tag != "!!bool" {
			return fail("true or false")
		}
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			return fail("true or false")
		}
		return reflect.ValueOf(b).Convert(t), nil
	case reflect.Int, reflect.Int64:
		var i int64
		switch tag {
		case "!!int":
			if err := n.Decode(&i); err != nil {
				return fail("an integer that fits in 64 bits")
			}
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<63 {
				return fail("a whole number")
			}
			i = int64(f)
		default:
			return fail("a whole number")
		}
		r := reflect.New(t).Elem()
		if r.OverflowInt(i) {
			return fail("a smaller whole number")
		}
		r.SetInt(i)
		return r, nil
	case reflect.Float64:
		if tag != "!!int" && tag != "!!float" {
			return fail("a number")
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return fail("a number")
		}
		return reflect.ValueOf(f), nil
	}
	return reflect.Value{}, fmt.Errorf("internal error: unsupported argument type %v", t)
}

// argTypeWord names a type in messages and documentation.
func argTypeWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return argTypeWord(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int64:
		return "int"
	case reflect.Float64:
		return "float"
	case reflect.Slice:
		return argTypeWord(t.Elem()) + " list"
	case reflect.Map:
		return "name=" + argTypeWord(t.Elem()) + " map"
	}
	return t.String()
}

// argWantWord is what a scalar field wants, for messages.
func argWantWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	}
	return argTypeWord(t)
}

// argKeySynonyms maps names people commonly write (other trainers' names, HF's
// removed ones) to kiln's, for "did you mean" hints.
var argKeySynonyms = map[string]string{
	"lr":                       "learning_rate",
	"epochs":                   "num_train_epochs",
	"num_epochs":               "num_train_epochs",
	"n_epochs":                 "num_train_epochs",
	"max_epochs":               "num_train_epochs",
	"batch_size":               "per_device_train_batch_size",
	"train_batch_size":         "per_device_train_batch_size",
	"per_gpu_train_batch_size": "per_device_train_batch_size",
	"eval_batch_size":          "per_device_eval_batch_size",
	"per_gpu_eval_batch_size":  "per_device_eval_batch_size",
	"grad_accum":               "gradient_accumulation_steps",
	"accumulate_grad_batches":  "gradient_accumulation_steps",
	"optimizer":                "optim",
	"scheduler":                "lr_scheduler_type",
	"lr_scheduler":             "lr_scheduler_type",
	"warmup":                   "warmup_steps",
	"grad_clip":                "max_grad_norm",
	"gradient_clip_val":        "max_grad_norm",
	"clip_grad_norm":           "max_grad_norm",
	"evaluate_during_training": "eval_strategy",
	"patience":                 "early_stopping_patience",
	"out_dir":                  "output_dir",
	"output":                   "output_dir",
}

// suggestArgKey returns the known key nearest to an unknown one, or "".
func suggestArgKey(key string) string {
	var known []string
	for _, f := range argFieldList() {
		known = append(known, f.key)
	}
	norm := strings.ReplaceAll(strings.ToLower(strings.TrimLeft(key, "-")), "-", "_")
	if slices.Contains(known, norm) {
		return norm
	}
	if to, ok := argAliases[norm]; ok {
		return to
	}
	if to, ok := argKeySynonyms[norm]; ok {
		return to
	}
	best, bestD := "", max(2, len(norm)/4)+1
	for _, k := range known {
		if d := argEditDistance(norm, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return best
	}
	// A fragment of exactly one key ("patience", "epsilon").
	if len(norm) >= 4 {
		var hits []string
		for _, k := range known {
			if strings.Contains(k, norm) {
				hits = append(hits, k)
			}
		}
		if len(hits) == 1 {
			return hits[0]
		}
	}
	return ""
}

// argEditDistance is the Levenshtein distance between a and b (bytes).
func argEditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// SaveJSON writes every argument to path as indented JSON with sorted keys
// (kiln writes it as training_args.json in the output directory and in each
// checkpoint). Unset pointer arguments are written as null. LoadArgs reads
// the file back to an equal Args. The file is replaced atomically (written
// to a temporary file in the same directory, then renamed). Non-finite
// floats cannot be written: call Validate first.
func (a Args) SaveJSON(path string) error {
	data, err := a.sortedJSON()
	if err != nil {
		return fmt.Errorf("writing training arguments to %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing training arguments: %w", err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644) // CreateTemp makes files private
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing training arguments: %w", err)
	}
	return nil
}

// sortedJSON is SaveJSON's content: the struct's JSON re-encoded through a
// map, which encoding/json writes with sorted keys (json.Number keeps every
// number exactly as first written).
func (a Args) sortedJSON() ([]byte, error) {
	raw, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
