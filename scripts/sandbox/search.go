package main

// GET /v1/payment_intents/search?query=...&limit=&page= with Stripe's search
// query language, for the fields Stripe supports on PaymentIntents:
//
//	metadata['kit_order']:'ord_1'   metadata["key"]:"value" works too
//	status:'requires_capture'       currency:'usd'   customer:'cus_...'
//	amount>1000  amount>=1000  amount<5000  amount<=5000  amount:5250   (also created)
//	-status:'canceled'              a leading "-" negates a clause
//
// Clauses are joined with AND or with OR (not both, as at Stripe). Results are
// newest first; next_page is an opaque cursor for page=. Unlike Stripe's index,
// results are current at once (no propagation delay).

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

type searchClause struct {
	negate bool
	field  string // amount, created, currency, customer, status, metadata
	key    string // metadata key
	op     string // ":", ">", ">=", "<", "<="
	value  string
	number bool // value was a bare number
}

var searchFields = []string{"amount", "created", "currency", "customer", "metadata", "status"}

func searchError(format string, args ...any) *apiError {
	return invalid("query", "", "Invalid query: %s", fmt.Sprintf(format, args...))
}

// parseSearch parses a query into clauses and reports whether they are ORed.
func parseSearch(q string) ([]searchClause, bool, *apiError) {
	var out []searchClause
	conn := ""
	rest := strings.TrimSpace(q)
	if rest == "" {
		return nil, false, searchError("the query is empty.")
	}
	for {
		c, n, err := parseClause(rest)
		if err != nil {
			return nil, false, err
		}
		out = append(out, c)
		rest = strings.TrimSpace(rest[n:])
		if rest == "" {
			break
		}
		word, after, _ := strings.Cut(rest, " ")
		word = strings.ToUpper(word)
		if word != "AND" && word != "OR" {
			return nil, false, searchError("expected AND or OR before %q.", rest)
		}
		if conn != "" && conn != word {
			return nil, false, searchError("AND and OR cannot be combined in one query.")
		}
		conn = word
		rest = strings.TrimSpace(after)
	}
	if len(out) > 10 {
		return nil, false, searchError("at most 10 clauses are allowed.")
	}
	return out, conn == "OR", nil
}

// parseClause reads one clause at the start of s and returns its length.
func parseClause(s string) (searchClause, int, *apiError) {
	var c searchClause
	i := 0
	if strings.HasPrefix(s, "-") {
		c.negate = true
		i++
	}
	j := i
	for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] == '_') {
		j++
	}
	c.field = s[i:j]
	if c.field == "" {
		return c, 0, searchError("expected a field name at %q.", s)
	}
	if !slices.Contains(searchFields, c.field) {
		return c, 0, searchError("%s is not a supported search field for payment_intents (use %s).", c.field, strings.Join(searchFields, ", "))
	}
	if c.field == "metadata" {
		if j >= len(s) || s[j] != '[' {
			return c, 0, searchError("metadata needs a key: metadata['key']:'value'.")
		}
		key, n, err := quoted(s[j+1:])
		if err != nil {
			return c, 0, err
		}
		j += 1 + n
		if j >= len(s) || s[j] != ']' {
			return c, 0, searchError("expected ] after the metadata key.")
		}
		c.key = key
		j++
	}
	for _, op := range []string{">=", "<=", ":", ">", "<"} {
		if strings.HasPrefix(s[j:], op) {
			c.op = op
			j += len(op)
			break
		}
	}
	if c.op == "" {
		return c, 0, searchError("expected :, >, >=, < or <= after %s.", c.field)
	}
	if c.op != ":" && c.field != "amount" && c.field != "created" {
		return c, 0, searchError("%s supports only ':'; comparisons work on amount and created.", c.field)
	}
	if j < len(s) && (s[j] == '\'' || s[j] == '"') {
		v, n, err := quoted(s[j:])
		if err != nil {
			return c, 0, err
		}
		c.value = v
		j += n
	} else {
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k == j {
			return c, 0, searchError("values must be quoted strings ('...') or numbers, at %q.", s[j:])
		}
		c.value, c.number = s[j:k], true
		j = k
	}
	if (c.field == "amount" || c.field == "created") && !c.number {
		if _, err := strconv.ParseInt(c.value, 10, 64); err != nil {
			return c, 0, searchError("%s needs a number.", c.field)
		}
	}
	return c, j, nil
}

// quoted reads a '...' or "..." string (backslash escapes the quote) at the start of s.
func quoted(s string) (string, int, *apiError) {
	if s == "" || s[0] != '\'' && s[0] != '"' {
		return "", 0, searchError("expected a quoted string at %q.", s)
	}
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case s[i] == q:
			return b.String(), i + 1, nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, searchError("unterminated string in %q.", s)
}

func (c searchClause) matches(pi *paymentIntent) bool {
	var ok bool
	switch c.field {
	case "amount", "created":
		have := pi.Amount
		if c.field == "created" {
			have = pi.Created
		}
		want, _ := strconv.ParseInt(c.value, 10, 64)
		switch c.op {
		case ":":
			ok = have == want
		case ">":
			ok = have > want
		case ">=":
			ok = have >= want
		case "<":
			ok = have < want
		case "<=":
			ok = have <= want
		}
	case "status":
		ok = pi.Status == c.value
	case "currency":
		ok = strings.EqualFold(pi.Currency, c.value)
	case "customer":
		ok = pi.Customer != nil && *pi.Customer == c.value
	case "metadata":
		v, has := pi.Metadata[c.key]
		ok = has && v == c.value
	}
	return ok != c.negate
}

func (sb *Sandbox) searchIntentsLocked(c *apiCall) (any, *apiError) {
	root := c.root
	if err := checkUnknown(root, []string{"expand", "limit", "page", "query"}, ""); err != nil {
		return nil, err
	}
	q, ok, err := str(root, "query", "query")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, missing("query")
	}
	clauses, or, err := parseSearch(q)
	if err != nil {
		return nil, err
	}
	limit := int64(defaultListLimit)
	if v, ok, err := str(root, "limit", "limit"); err != nil {
		return nil, err
	} else if ok {
		if limit, err = parseInt(v, "limit", 1, 100); err != nil {
			return nil, err
		}
	}
	offset := 0
	if page, ok, err := str(root, "page", "page"); err != nil {
		return nil, err
	} else if ok && page != "" {
		n, perr := strconv.Atoi(strings.TrimPrefix(page, "sandbox_page_"))
		if !strings.HasPrefix(page, "sandbox_page_") || perr != nil || n < 0 {
			return nil, invalid("page", "", "Invalid page: use the next_page value of a previous search.")
		}
		offset = n
	}
	var hits []*paymentIntent
	for i := len(sb.intentList) - 1; i >= 0; i-- {
		pi := sb.intentList[i]
		match := !or
		for _, cl := range clauses {
			if or {
				match = match || cl.matches(pi)
			} else {
				match = match && cl.matches(pi)
			}
		}
		if match {
			hits = append(hits, pi)
		}
	}
	data := []any{}
	for i := offset; i < len(hits) && int64(len(data)) < limit; i++ {
		data = append(data, hits[i].object(nil))
	}
	more := offset+len(data) < len(hits)
	var next any
	if more {
		next = "sandbox_page_" + strconv.Itoa(offset+len(data))
	}
	return map[string]any{"object": "search_result", "data": data, "has_more": more, "next_page": next,
		"total_count": len(hits), "url": "/v1/payment_intents/search"}, nil
}
