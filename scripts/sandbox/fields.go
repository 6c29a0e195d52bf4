package main

// Parameter tables: a handler's parameters as rows of fields, one row per
// parameter, read by readFields. Adding a Stripe option is adding a row; the
// handler then reads its value from the returned values.

import (
	"slices"
	"strings"
)

type fieldKind int

const (
	accepted     fieldKind = iota // any shape; accepted without effect
	byHandler                     // read by the handler's own code (the table only names it)
	text                          // a string; "" counts as absent unless required; max: length
	enumText                      // one of enum; "" is an error
	emailText                     // an email address
	currencyCode                  // a three-letter ISO currency code
	boolText                      // true | false
	integer                       // an integer in [min, max]
	metadataHash                  // name[key]=value, with Stripe's metadata limits
	hashOf                        // name[...]: its keys are the rows in sub
	enumList                      // name[i]: each one of enum
	refused                       // a Stripe parameter the sandbox does not simulate: refuse says why
	listOf                        // name[i][...]: each a hash of the rows in sub; max: most elements
	countryList                   // name[i]: each a two-letter ISO 3166-1 country code
)

// fieldOps says which operations of a resource take a row (0: all of them).
type fieldOps uint8

const (
	onCreate fieldOps = 1 << iota
	onUpdate
	onConfirm
)

// field is one row of a parameter table.
type field struct {
	name     string
	kind     fieldKind
	ops      fieldOps // for tables shared by several operations
	required bool
	unused   bool     // validated, then ignored (no effect in the sandbox)
	enum     []string // enumText, enumList
	min, max int64    // integer's range; text's maximum length (0: any)
	refuse   string   // refused: the rest of the message after the parameter's name
	sub      []field  // hashOf: the hash's keys
}

// value is what readFields read for one row.
type value struct {
	set  bool   // present (text: and not empty)
	s    string // text, enumText, emailText, currencyCode
	n    int64  // integer
	b    bool   // boolText
	list []string
	md   map[string]string // metadataHash
	each []values          // listOf
	sub  values            // hashOf
	p    *param            // the raw parameter (accepted, byHandler)
}

type values map[string]value

// str returns a set string value as a pointer, nil when unset.
func (v values) str(name string) *string {
	if x, ok := v[name]; ok && x.set {
		return &x.s
	}
	return nil
}

// fieldNames lists the rows' names.
func fieldNames(fields []field) []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return names
}

// forOp returns the rows that op takes.
func forOp(fields []field, op fieldOps) []field {
	var out []field
	for _, f := range fields {
		if f.ops == 0 || f.ops&op != 0 {
			out = append(out, f)
		}
	}
	return out
}

// readFields rejects parameters of p that are not rows, then reads and checks
// each row in order. prefix is p's full name ("" at the top level).
func readFields(p *param, prefix string, fields []field) (values, *apiError) {
	if err := checkUnknown(p, fieldNames(fields), prefix); err != nil {
		return nil, err
	}
	out := values{}
	for i := range fields {
		f := &fields[i]
		full := f.name
		if prefix != "" {
			full = prefix + "[" + f.name + "]"
		}
		v, err := f.read(p, full)
		if err != nil {
			return nil, err
		}
		out[f.name] = v
	}
	return out, nil
}

func (f *field) read(p *param, full string) (value, *apiError) {
	var v value
	c := p.child(f.name)
	if c == nil {
		if f.required {
			return v, missing(full)
		}
		return v, nil
	}
	v.p = c
	switch f.kind {
	case accepted, byHandler:
		v.set = true
		return v, nil
	case refused:
		return v, invalid(full, "", "%s %s", full, f.refuse)
	case metadataHash:
		v.set, v.md = true, map[string]string{}
		return v, readMetadataAt(c, full, v.md)
	case hashOf:
		h, err := hash(p, f.name, full)
		if err != nil || h == nil {
			return v, err
		}
		v.set = true
		v.sub, err = readFields(h, full, f.sub)
		return v, err
	case listOf:
		items, keys, err := list(c, full)
		if err != nil {
			return v, err
		}
		if f.max > 0 && int64(len(items)) > f.max {
			return v, invalid(full, "", "Invalid %s: at most %d elements", full, f.max)
		}
		v.set = true
		for i, it := range items {
			el := full + "[" + keys[i] + "]"
			if it.value != nil {
				return v, invalid(el, "", "Invalid %s: each element must be a hash", el)
			}
			sub, err := readFields(it, el, f.sub)
			if err != nil {
				return v, err
			}
			v.each = append(v.each, sub)
		}
		return v, nil
	case enumList, countryList:
		items, keys, err := list(c, full)
		if err != nil {
			return v, err
		}
		v.set = true
		for i, it := range items {
			el := full + "[" + keys[i] + "]"
			if it.value == nil || !f.listElement(*it.value) {
				return v, invalid(el, "", "Invalid %s: must be %s", el, f.listWant())
			}
			v.list = append(v.list, *it.value)
		}
		if f.required && len(v.list) == 0 {
			return v, missing(full)
		}
		return v, nil
	}

	// Scalars.
	if c.value == nil {
		return v, invalid(full, "", "Invalid %s: expected a string, not a hash or array", full)
	}
	s := *c.value
	switch f.kind {
	case text, emailText:
		if s == "" {
			if f.required {
				return v, emptyString(full)
			}
			return v, nil
		}
		if f.max > 0 && int64(len(s)) > f.max {
			return v, invalid(full, "", "Invalid %s: must be at most %d characters", full, f.max)
		}
		if f.kind == emailText && !validEmail(s) {
			return v, invalid(full, "email_invalid", "Invalid email address: %s", s)
		}
	case enumText:
		if s == "" {
			return v, emptyString(full)
		}
		if !slices.Contains(f.enum, s) {
			return v, invalid(full, "", "Invalid %s: must be one of %s", full, oneOf(f.enum))
		}
	case currencyCode:
		if !currencyRE.MatchString(strings.ToLower(s)) {
			return v, invalid(full, "", "Invalid currency: %s. Use a three-letter ISO code such as usd.", s)
		}
	case boolText:
		switch strings.ToLower(s) {
		case "true":
			v.b = true
		case "false":
		default:
			return v, invalid(full, "", "Invalid boolean: %s", s)
		}
	case integer:
		n, err := parseInt(s, full, f.min, f.max)
		if err != nil {
			return v, err
		}
		v.n = n
	}
	v.set, v.s = true, s
	return v, nil
}

// listElement checks one element of an enumList or countryList.
func (f *field) listElement(s string) bool {
	if f.kind == countryList {
		return len(s) == 2 && strings.ToUpper(s) == s && allLetters(s)
	}
	return slices.Contains(f.enum, s)
}

// listWant says what listElement accepts, for errors.
func (f *field) listWant() string {
	if f.kind == countryList {
		return "a two-letter ISO 3166-1 country code such as US"
	}
	return "one of " + oneOf(f.enum)
}

func allLetters(s string) bool {
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return s != ""
}
