package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"log"
	"mime"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// shuffle permutes xs in place (Fisher-Yates with the package's SplitMix64).
func shuffle[T any](r *rng, xs []T) {
	for i := len(xs) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		xs[i], xs[j] = xs[j], xs[i]
	}
}

// sample returns k of the n indices 0..n-1 (all of them when k >= n), in
// increasing order.
func sample(r *rng, n, k int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	shuffle(r, idx)
	if k < n {
		idx = idx[:k]
	}
	sort.Ints(idx)
	return idx
}

func glob(pattern string) []string {
	files, err := filepath.Glob(pattern)
	if err != nil {
		log.Fatal(err)
	}
	if len(files) == 0 {
		log.Fatalf("no files match %s", pattern)
	}
	sort.Strings(files)
	return files
}

// ---- State of the Union passages (US-government works, public domain) ----

// sotuPerSpeech passages are drawn from each of the 233 addresses.
const sotuPerSpeech = 5

// sotuMinChars: consecutive sentences are joined into one passage until it
// reaches this many characters.
const sotuMinChars = 200

type sotuRow struct {
	Text      string `json:"text"`
	Year      int    `json:"year"`
	Party     string `json:"party"`
	President string `json:"president"`
}

// sotuParagraphs reads every address (data/*.json: year, name, party, text)
// and draws perSpeech passages from each, in speech order. The package keeps
// each address as a single line without paragraph breaks, so a "paragraph"
// here is a run of whole consecutive sentences of at least sotuMinChars
// characters.
func sotuParagraphs(r *rng, dir string, perSpeech int) []sotuRow {
	var rows []sotuRow
	for _, f := range glob(filepath.Join(dir, "*.json")) {
		b, err := os.ReadFile(f)
		if err != nil {
			log.Fatal(err)
		}
		var s struct {
			Year              int
			Name, Party, Text string
		}
		if err := json.Unmarshal(b, &s); err != nil {
			log.Fatalf("%s: %v", f, err)
		}
		ps := passages(sentences(strings.Join(strings.Fields(s.Text), " ")), sotuMinChars)
		for _, i := range sample(r, len(ps), perSpeech) {
			rows = append(rows, sotuRow{Text: ps[i], Year: s.Year, Party: s.Party, President: s.Name})
		}
	}
	return rows
}

// sentences splits whitespace-normalised text after '.', '?' or '!' (and any
// closing quotes or brackets) that a space and an upper-case letter, a digit,
// an opening quote or bracket follow, except after a single capital letter
// ("U.S.", "J. Q.") or a common abbreviation ("Mr.", "St.").
func sentences(text string) []string {
	var out []string
	start := 0
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		if rs[i] != '.' && rs[i] != '?' && rs[i] != '!' {
			continue
		}
		j := i + 1
		for j < len(rs) && strings.ContainsRune(`"')]”’`, rs[j]) {
			j++
		}
		if j+1 >= len(rs) || rs[j] != ' ' {
			continue
		}
		next := rs[j+1]
		if !unicode.IsUpper(next) && !unicode.IsDigit(next) && !strings.ContainsRune(`"'(“‘`, next) {
			continue
		}
		if rs[i] == '.' {
			w := i
			for w > 0 && rs[w-1] != ' ' {
				w--
			}
			word := string(rs[w:i])
			if len([]rune(word)) == 1 && unicode.IsUpper(rs[w]) || abbrev[strings.TrimLeft(word, `"'(“‘`)] || strings.Contains(word, ".") {
				continue
			}
		}
		out = append(out, string(rs[start:j]))
		start = j + 1
		i = j
	}
	if start < len(rs) {
		out = append(out, string(rs[start:]))
	}
	return out
}

var abbrev = map[string]bool{"Mr": true, "Mrs": true, "Ms": true, "Dr": true, "St": true, "Gen": true, "Gov": true,
	"Sen": true, "Rep": true, "Hon": true, "Jr": true, "Sr": true, "No": true, "Nos": true, "Co": true, "Messrs": true,
	"Capt": true, "Col": true, "Lt": true, "Adm": true, "Prof": true, "Rev": true, "vs": true, "etc": true}

// passages joins consecutive sentences until each run has at least min
// characters; a short remainder joins the last passage.
func passages(sents []string, min int) []string {
	var out []string
	var cur []string
	n := 0
	for _, s := range sents {
		cur = append(cur, s)
		n += utf8.RuneCountInString(s) + 1
		if n >= min {
			out = append(out, strings.Join(cur, " "))
			cur, n = nil, 0
		}
	}
	if len(cur) > 0 {
		if len(out) > 0 {
			out[len(out)-1] += " " + strings.Join(cur, " ")
		} else {
			out = append(out, strings.Join(cur, " "))
		}
	}
	return out
}

// ---- SpamAssassin public corpus (PDDL-1.0 / CC0-1.0) ----

// spamPerGroup messages are drawn from each group (easy-ham-1, easy-ham-2,
// hard-ham-1, spam-1, spam-2): 360 ham and 240 spam in all.
const spamPerGroup = 120

// spamMaxChars bounds the body (after the subject) in characters.
const spamMaxChars = 650

type spamRow struct {
	Text  string `json:"text"`
	Label string `json:"label"`
	Group string `json:"group"`
}

// spamAssassin draws perGroup messages from each group directory of the
// package (the raw messages, GROUP/*.txt), in a seeded order, skipping those
// whose body is base64-encoded at the top level or empty. The text is the
// decoded Subject: line, a blank line and the body with the RFC-822 headers
// stripped; bytes that are not valid UTF-8 are dropped, CR LF becomes LF,
// other control characters except tab are dropped, and the body is cut to
// spamMaxChars characters at the last line break or space before the limit.
func spamAssassin(r *rng, dir string, perGroup int) []spamRow {
	var rows []spamRow
	for _, g := range []string{"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"} {
		files := glob(filepath.Join(dir, g, "*.txt"))
		shuffle(r, files)
		var picked []string
		for _, f := range files {
			if len(picked) == perGroup {
				break
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				log.Fatal(err)
			}
			if text, ok := spamText(raw); ok {
				picked = append(picked, filepath.Base(f)+"\x00"+text)
			}
		}
		if len(picked) < perGroup {
			log.Fatalf("%s: only %d usable messages", g, len(picked))
		}
		sort.Strings(picked) // file-name order within a group
		label := "ham"
		if strings.HasPrefix(g, "spam") {
			label = "spam"
		}
		for _, p := range picked {
			rows = append(rows, spamRow{Text: p[strings.IndexByte(p, 0)+1:], Label: label, Group: g})
		}
	}
	return rows
}

func spamText(raw []byte) (string, bool) {
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	head, body, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		return "", false
	}
	subject := ""
	lines := strings.Split(string(head), "\n")
	for i, l := range lines {
		name, value, ok := strings.Cut(l, ":")
		if !ok || strings.ContainsAny(name, " \t") {
			continue
		}
		for i+1 < len(lines) && lines[i+1] != "" && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			value += " " + lines[i]
		}
		switch strings.ToLower(name) {
		case "subject":
			if subject == "" {
				subject = decodeHeader(value)
			}
		case "content-transfer-encoding":
			if strings.EqualFold(strings.TrimSpace(value), "base64") {
				return "", false
			}
		}
	}
	b := clean(string(body))
	b = strings.TrimSpace(b)
	if b == "" {
		return "", false
	}
	if rs := []rune(b); len(rs) > spamMaxChars {
		cut := spamMaxChars
		for k := cut; k > spamMaxChars*3/4; k-- {
			if rs[k] == '\n' || rs[k] == ' ' {
				cut = k
				break
			}
		}
		b = strings.TrimSpace(string(rs[:cut]))
	}
	if subject = strings.Join(strings.Fields(clean(subject)), " "); subject != "" {
		b = subject + "\n\n" + b
	}
	return b, true
}

// decodeHeader decodes RFC 2047 encoded words in the charsets Go's mime
// package knows (UTF-8, ISO-8859-1, US-ASCII); other values stay as they are.
func decodeHeader(v string) string {
	d := mime.WordDecoder{}
	if s, err := d.DecodeHeader(v); err == nil {
		return s
	}
	return v
}

// clean drops invalid UTF-8 bytes and control characters other than tab and
// line feed.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "")
	return strings.Map(func(c rune) rune {
		if c == '\n' || c == '\t' || !unicode.IsControl(c) {
			return c
		}
		return -1
	}, s)
}

// ---- Jane Austen (texts public domain; janeaustenr MIT) ----

// austenBooks: the novels and how many of their first chapters to keep.
var austenBooks = []struct {
	Book     string
	Chapters int
}{{"Pride & Prejudice", 10}, {"Emma", 5}}

type austenRow struct {
	Book    string `json:"book"`
	Chapter int    `json:"chapter"`
	Text    string `json:"text"`
}

// austenChapters reads the CSV that write.csv(austen_books()) writes (columns
// text, book; one row per printed line, empty rows between paragraphs) and
// returns one row per paragraph of the first chapters of each book, lines
// joined with single spaces. Chapter headings ("Chapter 1", "CHAPTER I") and
// "VOLUME" lines are not text.
func austenChapters(path string, books []struct {
	Book     string
	Chapters int
}) []austenRow {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	header, err := cr.Read()
	if err != nil || len(header) != 2 || header[0] != "text" || header[1] != "book" {
		log.Fatalf("%s: header %q, want text,book (%v)", path, header, err)
	}
	want := map[string]int{}
	for _, b := range books {
		want[b.Book] = b.Chapters
	}
	byBook := map[string][]austenRow{}
	chapter := map[string]int{}
	var para []string
	last := ""
	flush := func() {
		if len(para) > 0 && chapter[last] >= 1 && chapter[last] <= want[last] {
			byBook[last] = append(byBook[last], austenRow{Book: last, Chapter: chapter[last], Text: strings.Join(strings.Fields(strings.Join(para, " ")), " ")})
		}
		para = nil
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		line, book := strings.TrimSpace(rec[0]), rec[1]
		if book != last {
			flush()
			last = book
		}
		up := strings.ToUpper(line)
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(up, "CHAPTER ") && len(strings.Fields(line)) == 2:
			flush()
			chapter[book]++
		case strings.HasPrefix(up, "VOLUME ") && len(strings.Fields(line)) == 2:
			flush()
		default:
			para = append(para, line)
		}
	}
	flush()
	var rows []austenRow
	for _, b := range books {
		if len(byBook[b.Book]) == 0 {
			log.Fatalf("%s: no paragraphs of %q", path, b.Book)
		}
		rows = append(rows, byBook[b.Book]...)
	}
	return rows
}
