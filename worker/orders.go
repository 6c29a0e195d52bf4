package worker

// The operator API's orders (bearer token, see admin.go):
//
//	GET /admin/orders?state=paid&limit=20&cursor=...   newest first
//	GET /admin/orders/{id}                             id: cs_..., pi_... or the reference ord_...
//	POST /admin/orders/{id}/refund                     {"amount": N} or no body (the rest); refunds.go
//
// A list answers {"object":"list","data":[order...],"has_more":bool,
// "next_cursor":"..."}; pass next_cursor as cursor for the next page.

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"checkoutkit/worker/orders"
)

const (
	defaultOrdersLimit = 20
	maxOrdersLimit     = 100
)

type orderList struct {
	Object     string         `json:"object"`
	Data       []orders.Order `json:"data"`
	HasMore    bool           `json:"has_more"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// encodeCursor and decodeCursor make the opaque cursor of ListOrders:
// base64url("<created>:<id>").
func encodeCursor(o *orders.Order) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(o.Created, 10) + ":" + o.ID))
}

func decodeCursor(c string) (*orders.Cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, false
	}
	created, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(created, 10, 64)
	if !ok || err != nil || n < 0 || !validOrderKey(id) {
		return nil, false
	}
	return &orders.Cursor{Created: n, ID: id}, true
}

// validOrderKey accepts what an order may be looked up by.
func validOrderKey(id string) bool {
	return orders.ValidRef(id) || validSessionID(id) || hasIDPrefix(id, "pi_")
}

func (s *Server) handleListOrders(w http.ResponseWriter, r *http.Request) {
	q := orders.Query{Limit: defaultOrdersLimit}
	for name, values := range r.URL.Query() {
		if len(values) != 1 {
			writeError(w, badRequest("invalid_parameter", name, "give %s once", name))
			return
		}
		v := values[0]
		switch name {
		case "state":
			if !orders.Valid(v) {
				writeError(w, badRequest("invalid_state", "state", "state must be one of %s", joinStates()))
				return
			}
			q.State = orders.State(v)
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxOrdersLimit {
				writeError(w, badRequest("invalid_limit", "limit", "limit must be a whole number between 1 and %d", maxOrdersLimit))
				return
			}
			q.Limit = n
		case "cursor":
			c, ok := decodeCursor(v)
			if !ok {
				writeError(w, badRequest("invalid_cursor", "cursor", "cursor must be a next_cursor from a previous page"))
				return
			}
			q.After = c
		default:
			writeError(w, badRequest("unknown_parameter", name, "unknown parameter %q; use state, limit or cursor", name))
			return
		}
	}
	if s.store == nil {
		writeError(w, errNoStore)
		return
	}
	list, more, err := s.store.List(r.Context(), q)
	if err != nil {
		writeError(w, err)
		return
	}
	page := orderList{Object: "list", Data: list, HasMore: more}
	if page.Data == nil {
		page.Data = []orders.Order{}
	}
	if more {
		page.NextCursor = encodeCursor(&list[len(list)-1])
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleGetOrder(w http.ResponseWriter, r *http.Request) {
	if aerr := checkOrderKey(r.PathValue("id")); aerr != nil {
		writeError(w, aerr)
		return
	}
	if o, ok := s.findOrder(w, r); ok {
		writeJSON(w, http.StatusOK, o)
	}
}

// checkOrderKey refuses path ids that cannot name an order.
func checkOrderKey(id string) *apiError {
	if !validOrderKey(id) {
		return badRequest("invalid_order_id", "id", "the order id must be a Checkout Session id (cs_...), a PaymentIntent id (pi_...) or an order reference (ord_...)")
	}
	return nil
}

// findOrder reads the order the path's {id} names. It answers the error
// itself (no store, a store failure, 404) and reports whether there is one.
func (s *Server) findOrder(w http.ResponseWriter, r *http.Request) (*orders.Order, bool) {
	if s.store == nil {
		writeError(w, errNoStore)
		return nil, false
	}
	id := r.PathValue("id")
	o, err := s.store.Get(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return nil, false
	}
	if o == nil {
		writeError(w, &apiError{Status: http.StatusNotFound, Code: "order_not_found", Message: "no order " + id + " is recorded"})
		return nil, false
	}
	return o, true
}

func joinStates() string {
	s := make([]string, len(orders.States))
	for i, st := range orders.States {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}
