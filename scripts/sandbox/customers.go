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

var customerParams = []string{"address", "balance", "cash_balance", "description", "email", "expand",
	"invoice_prefix", "invoice_settings", "metadata", "name", "next_invoice_sequence", "payment_method",
	"phone", "preferred_locales", "shipping", "source", "tax", "tax_exempt", "tax_id_data", "test_clock", "validate"}

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
	root := c.root
	if err := checkUnknown(root, customerParams, ""); err != nil {
		return nil, err
	}
	if _, err := expansions(root); err != nil {
		return nil, err
	}
	email, err := optEmail(root, "email", "email")
	if err != nil {
		return nil, err
	}
	cu := &customer{Metadata: map[string]string{}}
	if cu.Name, err = optString(root, "name", "name", 256); err != nil {
		return nil, err
	}
	if cu.Description, err = optString(root, "description", "description", 350); err != nil {
		return nil, err
	}
	if cu.Phone, err = optString(root, "phone", "phone", 20); err != nil {
		return nil, err
	}
	if err := readMetadata(root, "metadata", cu.Metadata); err != nil {
		return nil, err
	}
	cu.Email = email
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
	root := c.root
	if err := checkUnknown(root, []string{"configuration", "customer", "expand", "flow_data", "locale", "on_behalf_of", "return_url"}, ""); err != nil {
		return nil, err
	}
	if _, err := expansions(root); err != nil {
		return nil, err
	}
	id, ok, err := str(root, "customer", "customer")
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, missing("customer")
	case id == "":
		return nil, emptyString("customer")
	case sb.customers[id] == nil:
		return nil, noSuchCustomer("customer", id)
	}
	ps := &portalSession{ID: newID("bps_", 24), Created: sb.now().Unix(), Customer: id}
	if ps.ReturnURL, err = optString(root, "return_url", "return_url", 2048); err != nil {
		return nil, err
	}
	if ps.ReturnURL != nil && !validReturnURL(*ps.ReturnURL) {
		return nil, invalid("return_url", "url_invalid", "Not a valid URL: return_url must be an absolute http(s) URL.")
	}
	if ps.Locale, err = optString(root, "locale", "locale", 10); err != nil {
		return nil, err
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
