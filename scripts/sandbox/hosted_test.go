package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestHostedCheckout(t *testing.T) {
	e := newEnv(t)
	form := baseForm()
	form.Del("return_url")
	form.Set("ui_mode", "hosted")
	form.Set("success_url", "https://blog.example/thanks/?session_id={CHECKOUT_SESSION_ID}")
	form.Set("cancel_url", "https://blog.example/shop/")
	res, body := e.postForm("/v1/checkout/sessions", form, nil)
	if res.StatusCode != 200 {
		t.Fatalf("create hosted: %d %s", res.StatusCode, body)
	}
	m := decodeMap(t, body)
	id, _ := m["id"].(string)
	pageURL, _ := m["url"].(string)
	if m["ui_mode"] != "hosted" || m["client_secret"] != nil || m["return_url"] != nil {
		t.Errorf("hosted session: ui_mode=%v client_secret=%v return_url=%v", m["ui_mode"], m["client_secret"], m["return_url"])
	}
	if m["success_url"] != form.Get("success_url") || m["cancel_url"] != form.Get("cancel_url") {
		t.Errorf("success_url=%v cancel_url=%v", m["success_url"], m["cancel_url"])
	}
	u, err := url.Parse(pageURL)
	if err != nil || u.Path != hostedPath+id || !strings.HasPrefix(pageURL, "http://") {
		t.Fatalf("url = %q, want http://<sandbox>%s%s", pageURL, hostedPath, id)
	}

	// The hosted page renders the stand-in for this session.
	pres, err := http.Get(e.srv.URL + u.Path)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(pres.Body)
	pres.Body.Close()
	if pres.StatusCode != 200 || !strings.HasPrefix(pres.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("hosted page: %d %s", pres.StatusCode, pres.Header.Get("Content-Type"))
	}
	html := string(page)
	for _, want := range []string{`<script src="/stripe.js">`, `data-client-secret="` + id + `_secret_`, `href="https://blog.example/shop/"`, "initEmbeddedCheckout"} {
		if !strings.Contains(html, want) {
			t.Errorf("hosted page lacks %q:\n%s", want, html)
		}
	}
	secret := html[strings.Index(html, `data-client-secret="`)+len(`data-client-secret="`):]
	secret = secret[:strings.IndexByte(secret, '"')]

	// Paying sends the shopper to success_url with the session id filled in.
	pay, out := e.pay(secret, "4242424242424242")
	if pay.StatusCode != 200 || out["return_url"] != "https://blog.example/thanks/?session_id="+id {
		t.Fatalf("pay: %d %v", pay.StatusCode, out)
	}
	_, body = e.do(http.MethodGet, "/v1/checkout/sessions/"+id, "", nil, nil)
	m = decodeMap(t, body)
	if m["status"] != "complete" || m["url"] != nil {
		t.Errorf("after paying: status=%v url=%v", m["status"], m["url"])
	}

	if res, _ := http.Get(e.srv.URL + hostedPath + "cs_test_nope"); res.StatusCode != 404 {
		t.Errorf("unknown hosted page: %d", res.StatusCode)
	}
}
