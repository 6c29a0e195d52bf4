//go:build js && wasm

package main

// A database/sql driver for Cloudflare D1 over the instance's bridge
// (instance.mjs): Go calls d1(id, binding, mode, sql, params) and the loader
// answers d1Done(id, result, error) from one callback registered for the
// instance's lifetime. Parameters and results cross as one JSON string each.
//
// Why not syumai/workers' cloudflare/d1 driver (which builds and works under
// both TinyGo 0.42 and Go here): it awaits every statement with two js.FuncOf
// callbacks and releases only the one that fires, so each statement leaves
// about 220 bytes behind (measured: heap +1.3 MB per 1,000 requests of six
// statements), harmless when every request starts a new Go instance and a
// leak with the long-lived instance of instance.mjs; and it reads results as
// one js.Value per row and per column, each of which costs a finalizer under
// TinyGo (see bridge_js.go).
//
// Supported: statements with ?, ?NNN parameters of type int64, float64,
// bool, string and nil; results of INTEGER, REAL, TEXT and NULL columns.
// Not supported: BLOBs, named parameters, transactions (D1 has none; each
// statement is atomic).

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"syscall/js"
	"time"
)

// d1Bridge carries statements to instance.mjs.
type d1Bridge struct {
	start   js.Value // the bridge's d1 function
	binding string   // the D1 binding's name in the environment

	calls pendingCalls[d1Result]
}

type d1Result struct {
	body string
	err  string
}

func newD1Bridge(bridge js.Value, binding string) *d1Bridge {
	b := &d1Bridge{start: bridge.Get("d1"), binding: binding}
	bridge.Set("d1Done", js.FuncOf(b.done))
	return b
}

// done receives d1Done(id, result, error).
func (b *d1Bridge) done(_ js.Value, args []js.Value) any {
	b.calls.answer(args[0].Int(), d1Result{body: args[1].String(), err: args[2].String()})
	return nil
}

// call runs one statement: mode "run" (exec) or "raw" (query).
func (b *d1Bridge) call(ctx context.Context, mode, query string, args []driver.NamedValue) (string, error) {
	params, err := encodeD1Params(args)
	if err != nil {
		return "", err
	}
	id, ch := b.calls.begin()
	b.start.Invoke(id, b.binding, mode, query, params)
	res, err := b.calls.wait(ctx, id, ch)
	switch {
	case err != nil:
		return "", err
	case res.err != "":
		return "", errors.New("d1: " + res.err)
	}
	return res.body, nil
}

// maxSafeInteger is the largest integer a JavaScript number holds exactly.
const maxSafeInteger = 1<<53 - 1

func encodeD1Params(args []driver.NamedValue) (string, error) {
	vals := make([]any, len(args))
	for i, a := range args {
		if a.Name != "" {
			return "", fmt.Errorf("d1: named parameters are not supported (%s)", a.Name)
		}
		switch v := a.Value.(type) {
		case nil, string, float64:
			vals[i] = v
		case int64:
			if v > maxSafeInteger || v < -maxSafeInteger {
				return "", fmt.Errorf("d1: parameter %d (%d) does not fit a JavaScript number", a.Ordinal, v)
			}
			vals[i] = v
		case bool:
			if v {
				vals[i] = 1
			} else {
				vals[i] = 0
			}
		case time.Time:
			vals[i] = v.Unix()
		default:
			return "", fmt.Errorf("d1: parameter %d has unsupported type %T", a.Ordinal, a.Value)
		}
	}
	b, err := json.Marshal(vals)
	return string(b), err
}

// d1Connector opens connections (there is nothing to open: each is the bridge).
type d1Connector struct{ b *d1Bridge }

func (c *d1Connector) Connect(context.Context) (driver.Conn, error) { return &d1Conn{c.b}, nil }
func (c *d1Connector) Driver() driver.Driver                        { return d1Driver{} }

type d1Driver struct{}

func (d1Driver) Open(string) (driver.Conn, error) {
	return nil, errors.New("d1: open the database with sql.OpenDB(connector)")
}

type d1Conn struct{ b *d1Bridge }

var (
	_ driver.ExecerContext  = (*d1Conn)(nil)
	_ driver.QueryerContext = (*d1Conn)(nil)
)

func (c *d1Conn) Prepare(query string) (driver.Stmt, error) { return &d1Stmt{c, query}, nil }
func (c *d1Conn) Close() error                              { return nil }
func (c *d1Conn) Begin() (driver.Tx, error) {
	return nil, errors.New("d1: transactions are not supported; each statement is atomic")
}

func (c *d1Conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	body, err := c.b.call(ctx, "run", query, args)
	if err != nil {
		return nil, err
	}
	var meta struct {
		Changes   int64 `json:"changes"`
		LastRowID int64 `json:"last_row_id"`
	}
	if err := json.Unmarshal([]byte(body), &meta); err != nil {
		return nil, fmt.Errorf("d1: reading the result: %w", err)
	}
	return d1ExecResult(meta), nil
}

type d1ExecResult struct{ Changes, LastRowID int64 }

func (r d1ExecResult) LastInsertId() (int64, error) { return r.LastRowID, nil }
func (r d1ExecResult) RowsAffected() (int64, error) { return r.Changes, nil }

func (c *d1Conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	body, err := c.b.call(ctx, "raw", query, args)
	if err != nil {
		return nil, err
	}
	// raw({columnNames: true}): [[column names], [row values]...]
	var table [][]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	if err := dec.Decode(&table); err != nil {
		return nil, fmt.Errorf("d1: reading the rows: %w", err)
	}
	r := &d1Rows{}
	if len(table) > 0 {
		r.columns = make([]string, len(table[0]))
		for i, raw := range table[0] {
			if err := json.Unmarshal(raw, &r.columns[i]); err != nil {
				return nil, fmt.Errorf("d1: reading the column names: %w", err)
			}
		}
		r.rows = table[1:]
	}
	return r, nil
}

type d1Stmt struct {
	c     *d1Conn
	query string
}

func (s *d1Stmt) Close() error  { return nil }
func (s *d1Stmt) NumInput() int { return -1 }
func (s *d1Stmt) Exec([]driver.Value) (driver.Result, error) {
	return nil, errors.New("d1: use ExecContext")
}
func (s *d1Stmt) Query([]driver.Value) (driver.Rows, error) {
	return nil, errors.New("d1: use QueryContext")
}
func (s *d1Stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}
func (s *d1Stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}

type d1Rows struct {
	columns []string
	rows    [][]json.RawMessage
	next    int
}

func (r *d1Rows) Columns() []string { return r.columns }
func (r *d1Rows) Close() error      { return nil }

func (r *d1Rows) Next(dest []driver.Value) error {
	if r.next >= len(r.rows) {
		return io.EOF
	}
	row := r.rows[r.next]
	r.next++
	if len(row) != len(dest) {
		return fmt.Errorf("d1: a row has %d values for %d columns", len(row), len(dest))
	}
	for i, raw := range row {
		v, err := d1Value(raw)
		if err != nil {
			return fmt.Errorf("d1: column %s: %w", r.columns[i], err)
		}
		dest[i] = v
	}
	return nil
}

// d1Value converts one JSON value of a row: null, a number (int64 when
// integral), a string.
func d1Value(raw json.RawMessage) (driver.Value, error) {
	if len(raw) == 0 {
		return nil, errors.New("empty value")
	}
	switch c := raw[0]; {
	case c == 'n':
		return nil, nil
	case c == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case c == '-' || c >= '0' && c <= '9':
		if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			return n, nil
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return nil, err
		}
		if f == math.Trunc(f) && math.Abs(f) <= maxSafeInteger {
			return int64(f), nil
		}
		return f, nil
	case c == 't':
		return int64(1), nil
	case c == 'f':
		return int64(0), nil
	}
	return nil, errors.New("unsupported value (BLOBs are not supported): " + string(raw))
}
