package main

// Customers (minimal), the customer portal and the Events API.
//
//	POST /v1/customers                    email, name, description, phone, metadata (others accepted)
//	GET  /v1/customers/{id}
//	POST /v1/billing_portal/sessions      customer (required), return_url, locale, configuration, flow_data
//	GET  /p/session/{id}                  the portal page: the customer and a link back to return_url
//	GET  /v1/events[?type=&limit=]        newest first, as Stripe lists them
//	GET  /v1/events/{id}

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
)

const portalPath = "/p/session/"

type customer struct {
	ID          string
	Created     int64
	Email       *string
	Name        *string
	Description *string
	Phone       *string
	Metadata    map[string]string
}

// customerFields are the parameters of POST /v1/customers, one row each; the
// rows without a kind are accepted and have no effect in the sandbox.
var customerFields = []field{
	{name: "email", kind: emailText, max: 512},
	{name: "name", kind: text, max: 256},
	{name: "description", kind: text, max: 350},
	{name: "phone", kind: text, max: 20},
	{name: "metadata", kind: metadataHash},
	{name: "expand", kind: byHandler},
	{name: "address"},
	{name: "balance"},
	{name: "cash_balance"},
	{name: "invoice_prefix"},
	{name: "invoice_settings"},
	{name: "next_invoice_sequence"},
	{name: "payment_method"},
	{name: "preferred_locales"},
	{name: "shipping"},
	{name: "source"},
	{name: "tax"},
	{name: "tax_exempt"},
	{name: "tax_id_data"},
	{name: "test_clock"},
	{name: "validate"},
}

// portalFields are the parameters of POST /v1/billing_portal/sessions.
var portalFields = []field{
	{name: "customer", kind: text, required: true}, // an existing cus_...
	{name: "return_url", kind: text, max: 2048},    // an absolute http(s) URL
	{name: "locale", kind: text, max: 10},
	{name: "expand", kind: byHandler},
	{name: "configuration"},
	{name: "flow_data"},
	{name: "on_behalf_of"},
}

func noSuchCustomer(param, id string) *apiError {
	e := invalid(param, "resource_missing", "No such customer: '%s'", id)
	if param == "" {
		e.status = http.StatusNotFound
	}
	return e
}

// addCustomerLocked stores a new customer and emits customer.created.
func (sb *Sandbox) addCustomerLocked(cu *customer) *customer {
	cu.ID, cu.Created = newID("cus_", 14), sb.now().Unix()
	if cu.Metadata == nil {
		cu.Metadata = map[string]string{}
	}
	sb.customers[cu.ID] = cu
	sb.emitLocked("customer.created", cu.ID, cu.object())
	return cu
}

func (sb *Sandbox) createCustomerLocked(c *apiCall) (any, *apiError) {
	v, err := readFields(c.root, "", customerFields)
	if err != nil {
		return nil, err
	}
	if _, err := expansions(c.root); err != nil {
		return nil, err
	}
	cu := &customer{Email: v.str("email"), Name: v.str("name"), Description: v.str("description"),
		Phone: v.str("phone"), Metadata: v["metadata"].md}
	return sb.addCustomerLocked(cu).object(), nil
}

func (sb *Sandbox) retrieveCustomerLocked(c *apiCall) (any, *apiError) {
	if err := checkUnknown(c.root, []string{"expand"}, ""); err != nil {
		return nil, err
	}
	cu := sb.customers[c.id]
	if cu == nil {
		return nil, noSuchCustomer("", c.id)
	}
	return cu.object(), nil
}

func (cu *customer) object() map[string]any {
	return map[string]any{
		"id": cu.ID, "object": "customer", "address": nil, "balance": 0, "created": cu.Created, "currency": nil,
		"default_source": nil, "delinquent": false, "description": cu.Description, "discount": nil,
		"email": cu.Email, "invoice_prefix": strings.ToUpper(cu.ID[len(cu.ID)-8:]),
		"invoice_settings": map[string]any{"custom_fields": nil, "default_payment_method": nil, "footer": nil, "rendering_options": nil},
		"livemode":         false, "metadata": cu.Metadata, "name": cu.Name, "next_invoice_sequence": 1,
		"phone": cu.Phone, "preferred_locales": []string{}, "shipping": nil, "tax_exempt": "none", "test_clock": nil,
	}
}

// ---------------------------------------------------------------------------
// Customer portal

type portalSession struct {
	ID        string
	Created   int64
	Customer  string
	ReturnURL *string
	Locale    *string
	URL       string
}

func (sb *Sandbox) createPortalSessionLocked(c *apiCall) (any, *apiError) {
	v, err := readFields(c.root, "", portalFields)
	if err != nil {
		return nil, err
	}
	if _, err := expansions(c.root); err != nil {
		return nil, err
	}
	id := v["customer"].s
	if sb.customers[id] == nil {
		return nil, noSuchCustomer("customer", id)
	}
	ps := &portalSession{ID: newID("bps_", 24), Created: sb.now().Unix(), Customer: id,
		ReturnURL: v.str("return_url"), Locale: v.str("locale")}
	if ps.ReturnURL != nil && !validReturnURL(*ps.ReturnURL) {
		return nil, invalid("return_url", "url_invalid", "Not a valid URL: return_url must be an absolute http(s) URL.")
	}
	ps.URL = "http://" + c.r.Host + portalPath + ps.ID
	sb.portals[ps.ID] = ps
	return ps.object(), nil
}

func (ps *portalSession) object() map[string]any {
	return map[string]any{
		"id": ps.ID, "object": "billing_portal.session", "configuration": "bpc_sandboxdefault", "created": ps.Created,
		"customer": ps.Customer, "flow": nil, "livemode": false, "locale": ps.Locale, "on_behalf_of": nil,
		"return_url": ps.ReturnURL, "url": ps.URL,
	}
}

var portalPage = template.Must(template.New("portal").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stripe sandbox — customer portal</title>
<link rel="icon" href="data:,">
</head>
<body>
<p data-sandbox-banner>Stripe sandbox — development stand-in for the customer portal, no real account</p>
<h1>Your account</h1>
<dl data-sandbox-portal>
<dt>Customer</dt><dd data-sandbox-customer>{{.ID}}</dd>
<dt>Email</dt><dd>{{.Email}}</dd>
<dt>Saved payment methods</dt><dd>{{range .Cards}}{{.}}<br>{{else}}none{{end}}</dd>
</dl>
{{if .ReturnURL}}<p><a data-sandbox-return href="{{.ReturnURL}}">Return</a></p>{{end}}
</body>
</html>
`))

func (sb *Sandbox) servePortal(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	sb.mu.Lock()
	ps := sb.portals[r.PathValue("id")]
	var data struct {
		ID, Email, ReturnURL string
		Cards                []string
	}
	if ps != nil {
		data.ID = ps.Customer
		if cu := sb.customers[ps.Customer]; cu != nil && cu.Email != nil {
			data.Email = *cu.Email
		}
		if ps.ReturnURL != nil {
			data.ReturnURL = *ps.ReturnURL
		}
		for _, pm := range sb.paymentMethods {
			if pm.Customer != nil && *pm.Customer == ps.Customer && pm.Type == "card" {
				data.Cards = append(data.Cards, cardBrand(pm.Number)+" •••• "+last4(pm.Number))
			}
		}
	}
	sb.mu.Unlock()
	if ps == nil {
		writeJSON(w, http.StatusNotFound, devError(http.StatusNotFound, "resource_missing", "", "No customer portal session at this address.").envelope())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	portalPage.Execute(w, data)
}

// ---------------------------------------------------------------------------
// Events API

func (sb *Sandbox) retrieveEventLocked(c *apiCall) (any, *apiError) {
	if err := checkUnknown(c.root, []string{"expand"}, ""); err != nil {
		return nil, err
	}
	ev := sb.eventByID[c.id]
	if ev == nil {
		e := invalid("id", "resource_missing", "No such event: '%s'", c.id)
		e.status = http.StatusNotFound
		return nil, e
	}
	return json.RawMessage(ev.Body), nil
}

func (sb *Sandbox) listEventsLocked(c *apiCall) (any, *apiError) {
	root := c.root
	if err := checkUnknown(root, []string{"created", "delivery_success", "ending_before", "expand", "limit", "starting_after", "type", "types"}, ""); err != nil {
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
	typ, _, err := str(root, "type", "type")
	if err != nil {
		return nil, err
	}
	after, _, err := str(root, "starting_after", "starting_after")
	if err != nil {
		return nil, err
	}
	data := []any{}
	more := false
	skipping := after != ""
	for i := len(sb.events) - 1; i >= 0; i-- {
		ev := sb.events[i]
		if skipping {
			skipping = ev.ID != after
			continue
		}
		if typ != "" && ev.Type != typ && !(strings.HasSuffix(typ, ".*") && strings.HasPrefix(ev.Type, strings.TrimSuffix(typ, "*"))) {
			continue
		}
		if int64(len(data)) == limit {
			more = true
			break
		}
		data = append(data, json.RawMessage(ev.Body))
	}
	return &listObject{Object: "list", Data: data, HasMore: more, URL: "/v1/events"}, nil
}
