// Command secretscan looks for credentials in files: Stripe secret and
// restricted keys of real length, webhook signing secrets, client secrets of
// Checkout Sessions, PaymentIntents and SetupIntents, and the values of the
// secrets a test run used (named by -env). It prints where it found them,
// never what it found, and exits 1 if it found anything.
//
//	go run ./scripts/secretscan [-env ADMIN_TOKEN,CUSTOMER_TOKEN_SECRET] dist/site dist/worker dist/test-logs
//
// `make test` runs it last, over the built site and workers and every log the
// run captured; scan_test.go builds the site and scans it.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// A pattern is a kind of credential.
type pattern struct {
	kind string
	re   *regexp.Regexp
}

// patterns: what a real credential looks like. Test fixtures use short fake
// keys (sk_test_unit, sk_test_sandbox) that these lengths leave alone.
var patterns = []pattern{
	{"secret key", regexp.MustCompile(`\b[sr]k_(live|test)_[A-Za-z0-9]{20,}`)},
	{"webhook signing secret", regexp.MustCompile(`\bwhsec_[A-Za-z0-9+/]{16,}`)},
	{"client secret", regexp.MustCompile(`\b(cs_(live|test)|pi|seti)_[A-Za-z0-9]+_secret_[A-Za-z0-9]{6,}`)},
}

// minLiteral is the shortest -env value searched for literally (shorter
// values would match by chance).
const minLiteral = 16

// Finding is one credential in one file, described without its value.
type Finding struct {
	File string
	Line int
	Kind string
	Hint string // the first characters and the length, never the value
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %s (%s)", f.File, f.Line, f.Kind, f.Hint)
}

// literal is a secret value searched for as is.
type literal struct{ name, value string }

// ScanBytes finds credentials in data.
func ScanBytes(name string, data []byte, literals []literal) []Finding {
	var out []Finding
	lineOf := func(off int) int { return 1 + bytes.Count(data[:off], []byte{'\n'}) }
	for _, p := range patterns {
		for _, loc := range p.re.FindAllIndex(data, -1) {
			if !looksRandom(data[loc[0]:loc[1]]) {
				continue
			}
			out = append(out, Finding{File: name, Line: lineOf(loc[0]), Kind: p.kind, Hint: hint(data[loc[0]:loc[1]])})
		}
	}
	for _, l := range literals {
		for off := 0; ; {
			i := bytes.Index(data[off:], []byte(l.value))
			if i < 0 {
				break
			}
			out = append(out, Finding{File: name, Line: lineOf(off + i), Kind: "the value of " + l.name, Hint: fmt.Sprintf("%d characters", len(l.value))})
			off += i + len(l.value)
		}
	}
	return out
}

// looksRandom tells a credential from words that happen to follow a prefix
// (a compiled program packs its string constants without separators, so a
// "whsec_" that code checks for can run into the next constant): the random
// part after the last '_' holds a digit. Real keys and secrets are long
// random strings over letters and digits, which lack one with negligible
// probability (0.1% for a 32-character secret, less for longer ones).
func looksRandom(m []byte) bool {
	return bytes.IndexAny(m[bytes.LastIndexByte(m, '_')+1:], "0123456789") >= 0
}

// hint shows enough of a match to find it, and not enough to use it.
func hint(m []byte) string {
	prefix := m
	if i := bytes.LastIndexByte(m[:min(len(m), 16)], '_'); i >= 0 {
		prefix = m[:i+1]
	} else {
		prefix = m[:min(len(m), 4)]
	}
	return fmt.Sprintf("%s… %d characters", prefix, len(m))
}

// ScanPaths scans every regular file below each path.
func ScanPaths(paths []string, literals []literal) ([]Finding, int, error) {
	var out []Finding
	files := 0
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files++
			out = append(out, ScanBytes(p, data, literals)...)
			return nil
		})
		if err != nil {
			return nil, files, err
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out, files, nil
}

// literalsFromEnv reads the named environment variables, skipping unset and
// short ones.
func literalsFromEnv(names string) []literal {
	var out []literal
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		if v := strings.TrimSpace(os.Getenv(n)); n != "" && len(v) >= minLiteral {
			out = append(out, literal{n, v})
		}
	}
	return out
}

func main() {
	envNames := flag.String("env", "ADMIN_TOKEN,CUSTOMER_TOKEN_SECRET,STRIPE_WEBHOOK_SECRET", "environment variables whose values must not appear (unset or shorter than 16 characters: skipped)")
	flag.Parse()
	paths := flag.Args()
	if len(paths) == 0 {
		fmt.Fprintln(os.Stderr, "usage: secretscan [-env NAME,...] path...")
		os.Exit(2)
	}
	var existing []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			existing = append(existing, p)
		} else {
			fmt.Fprintf(os.Stderr, "secretscan: %s does not exist, skipped\n", p)
		}
	}
	lits := literalsFromEnv(*envNames)
	found, files, err := ScanPaths(existing, lits)
	if err != nil {
		fmt.Fprintln(os.Stderr, "secretscan:", err)
		os.Exit(2)
	}
	names := make([]string, len(lits))
	for i, l := range lits {
		names[i] = l.name
	}
	if len(found) > 0 {
		for _, f := range found {
			fmt.Fprintln(os.Stderr, f)
		}
		fmt.Fprintf(os.Stderr, "secretscan: %d credential(s) in %d files scanned\n", len(found), files)
		os.Exit(1)
	}
	fmt.Printf("secretscan: no credentials in %d files (%s; patterns: %d; values of: %s)\n", files, strings.Join(existing, " "), len(patterns), strings.Join(names, ", "))
}
